package rotate_test

import (
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestRedeliveredKeyNamesTheDayTheCurrentLimitGives: a new key made under the owner's short
// limit (RotationDays 30: new key at 20, deactivated at 30) whose email bounced is sent again
// after the owner lengthened their limit (RotationDays 60): the redelivery names the day the
// old key goes under the limit the owner has now, not the day stored when the key was made,
// which the rules no longer keep (the key is not silently later than told). Campaign seed 144
// day 85 with the ssm branch's world: told on day 81 that the old key goes on 2026-03-24,
// after the owner's change of day 80, and still active on the 27th, "nothing due".
func TestRedeliveredKeyNamesTheDayTheCurrentLimitGives(t *testing.T) {
	h := scenario.New(t)
	addr := "ola@" + scenario.Domain
	old := h.User("ola", map[string]string{policy.RotationDaysTag: "30"}, 21)[0]
	h.W.SetBounce(addr, true)
	h.Day() // the new key is made and emailed; the email bounces
	h.W.SetBounce(addr, false)
	scenario.Must(h.W.SetTag(scenario.Account, "ola", policy.RotationDaysTag, "60"))
	created := h.DayStart.AddDate(0, 0, -1-21) // the old key's creation day
	want := created.AddDate(0, 0, 60).Format(time.DateOnly)
	var got []string
	for _, n := range h.Scan() {
		if n.UserName == "ola" && n.NewKey != nil && n.NewKey.ReplacesAccessKeyID == old {
			got = append(got, n.NewKey.DeactivateOn)
		}
	}
	if len(got) != 1 || got[0] != want {
		t.Errorf("the redelivery of ola's new key names %v as the day %s goes; want [%s], its date under the limit of 60 days ola has now", got, old, want)
	}
}
