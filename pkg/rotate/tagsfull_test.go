package rotate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// make faults -rare, seed 15: a key whose delivery to its application's secret kept failing
// (the opt-in withdrawn) reached the end of the bounded wait on a user whose tags had filled
// IAM's 50 since the key was made. Giving the key up wrote key-rotator:undeliverable, which
// IAM refused, so the user failed every run and the undelivered key was never deleted. The
// key goes all the same (nobody holds it), and no tag IAM would refuse is written.
func TestUndeliveredKeyIsDroppedAtTheTagLimit(t *testing.T) {
	h := scenario.New(t)
	_, newKey := optInWithdrawnBeforeTheWrite(h)
	for i := 0; len(h.W.Tags(scenario.Account, "ci")) < policy.MaxTagsPerUser; i++ {
		scenario.Must(h.W.SetTag(scenario.Account, "ci", fmt.Sprintf("Own%02d", i), "x"))
	}
	for day := 1; day <= 21; day++ {
		res := h.DayWith()
		if err := scenario.Failed(res, "ci"); strings.Contains(err, "LimitExceeded") {
			t.Fatalf("day %d: IAM refused a tag of the rotator: %s", day, err)
		}
	}
	if _, ok := h.Keys("ci")[newKey]; ok || newKey == "" {
		t.Errorf("after the bounded wait: keys %v (new key %s): want the undelivered key deleted", h.Keys("ci"), newKey)
	}
}
