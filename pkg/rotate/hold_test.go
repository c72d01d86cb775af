package rotate_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestHoldReactivatesTheDeactivatedKeyUntilTheDayAfter (the operator's hold): an application
// broke when its old key was deactivated; the operator's hold makes that key active again in
// the run that places it, its owner is told until when and what happens after, no run
// deactivates or deletes the user's keys through the hold's last day, and the day after it
// the key is deactivated again (and told anew of its deletion day), then deleted.
func TestHoldReactivatesTheDeactivatedKeyUntilTheDayAfter(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci-bot", nil, 79)[0]
	for i := 0; i < 20 && h.Keys("ci-bot")[old] != types.StatusTypeInactive; i++ {
		h.Day()
	}
	if h.Keys("ci-bot")[old] != types.StatusTypeInactive {
		t.Fatalf("the old key was never deactivated: %v", h.Keys("ci-bot"))
	}
	until := h.Now.AddDate(0, 0, 5).Format(time.DateOnly)
	after := h.Now.AddDate(0, 0, 6).Format(time.DateOnly)
	h.Hold([]workflow.HoldRequest{{Account: scenario.Account, User: "ci-bot", Until: until, Reason: "INC-4711", Reactivate: true}})
	res := h.DayWith()
	if got := h.Keys("ci-bot")[old]; got != types.StatusTypeActive {
		t.Fatalf("after the run that placed the hold: old key %s is %s, want Active", old, got)
	}
	held := slices.IndexFunc(res.Users, func(u workflow.UserResult) bool { return u.UserName == "ci-bot" })
	if held < 0 || !strings.Contains(res.Users[held].Hold, "INC-4711") || !strings.Contains(res.Users[held].Hold, "made active again") || !res.Users[held].Held {
		t.Errorf("result %+v, want the user listed with the hold and its reactivation, Held (its Security Hub finding)", res.Users)
	}
	subjects := h.Subjects("ci-bot")
	if last := subjects[len(subjects)-1]; !strings.Contains(last, old) || !strings.Contains(last, "active again") {
		t.Errorf("last email %q, want the hold's notice about %s", last, old)
	}
	body := h.W.Delivered("ci-bot@" + scenario.Domain)
	if text := string(body[len(body)-1].Raw); !strings.Contains(text, until) || !strings.Contains(text, "deactivated on "+after) {
		t.Errorf("the hold's email does not give %s and the deactivation on %s", until, after)
	}
	for h.Now.Format(time.DateOnly) <= until {
		h.Day()
		if got := h.Keys("ci-bot"); got[old] != types.StatusTypeActive {
			t.Fatalf("on %s, within the hold: keys %v, want %s Active", h.Now.AddDate(0, 0, -1).Format(time.DateOnly), got, old)
		}
	}
	before := len(h.Subjects("ci-bot"))
	h.Day() // the day after the hold's last day
	if got := h.Keys("ci-bot")[old]; got != types.StatusTypeInactive {
		t.Fatalf("on %s, the day after the hold: old key %s is %s, want Inactive", after, old, got)
	}
	if told := h.Subjects("ci-bot")[before:]; !slices.ContainsFunc(told, func(s string) bool { return strings.Contains(s, old) && strings.Contains(s, "was deactivated") }) {
		t.Errorf("the day after the hold: emails %v, want one that %s was deactivated (and its deletion day)", told, old)
	}
	h.Day()
	if _, exists := h.Keys("ci-bot")[old]; exists {
		t.Logf("the day after the deactivation: %s still exists (its deletion waits for its day)", old)
	}
}

// TestHoldDoesNotKeepAnUnusedKey: rule 2 deletes a key unused for its limit under a hold too.
func TestHoldDoesNotKeepAnUnusedKey(t *testing.T) {
	h := scenario.New(t)
	ids := h.User("ci-bot", nil, 120, 20)
	scenario.Must(h.W.UseKey(scenario.Account, ids[0], h.Now.AddDate(0, 0, -100), "s3", "us-east-1"))
	h.Hold([]workflow.HoldRequest{{Account: scenario.Account, User: "ci-bot", Until: h.Now.AddDate(0, 0, 10).Format(time.DateOnly), Reason: "INC-4711"}})
	h.Day()
	if _, exists := h.Keys("ci-bot")[ids[0]]; exists {
		t.Errorf("unused key %s kept under the hold: %v", ids[0], h.Keys("ci-bot"))
	}
}

// TestReleaseEndsTheHoldTheNextDayWithTheOwnerTold: a release ends the hold with the day of
// the run that releases it: that run tells the owner the day after it, on which the key is
// deactivated, never before.
func TestReleaseEndsTheHoldTheNextDayWithTheOwnerTold(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci-bot", nil, 79)[0]
	for i := 0; i < 20 && h.Keys("ci-bot")[old] != types.StatusTypeInactive; i++ {
		h.Day()
	}
	h.Hold([]workflow.HoldRequest{{Account: scenario.Account, User: "ci-bot", Until: h.Now.AddDate(0, 0, 10).Format(time.DateOnly), Reason: "INC-4711", Reactivate: true}})
	h.Day()
	h.Day()
	tomorrow := h.Now.AddDate(0, 0, 1).Format(time.DateOnly)
	h.Hold(nil, workflow.ReleaseRequest{Account: scenario.Account, User: "ci-bot"})
	h.Day()
	if got := h.Keys("ci-bot")[old]; got != types.StatusTypeActive {
		t.Fatalf("on the day of the release: %s is %s, want Active (its owner is told the next day)", old, got)
	}
	body := h.W.Delivered("ci-bot@" + scenario.Domain)
	subjects := h.Subjects("ci-bot")
	if text := strings.ReplaceAll(string(body[len(body)-1].Raw), "=\r\n", ""); !strings.Contains(subjects[len(subjects)-1], "was ended early") || !strings.Contains(text, "deactivated on "+tomorrow) {
		t.Errorf("the release's email (%q) does not say it was ended early and that %s goes on %s", subjects[len(subjects)-1], old, tomorrow)
	}
	h.Day()
	if got := h.Keys("ci-bot")[old]; got != types.StatusTypeInactive {
		t.Errorf("the day after the release: %s is %s, want Inactive", old, got)
	}
}

// TestHoldDoesNotReactivateAKeyRule2Deletes: a deactivated key unused for the unused limit
// is not made active again by a hold (rule 2 would delete it at once, before the day its
// owner was told it is deleted); the hold still holds the user's other keys (campaign seed
// 20, day 88: reactivated, then deleted in the same run, 7 days before the day told).
func TestHoldDoesNotReactivateAKeyRule2Deletes(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci-bot", nil, 79)[0]
	for i := 0; i < 20 && h.Keys("ci-bot")[old] != types.StatusTypeInactive; i++ {
		h.Day()
	}
	scenario.Must(h.W.UseKey(scenario.Account, old, h.Now.AddDate(0, 0, -95), "s3", "us-east-1"))
	h.Hold([]workflow.HoldRequest{{Account: scenario.Account, User: "ci-bot", Until: h.Now.AddDate(0, 0, 5).Format(time.DateOnly), Reason: "INC-4711", Reactivate: true}})
	res := h.DayWith()
	if got, exists := h.Keys("ci-bot")[old]; !exists || got != types.StatusTypeInactive {
		t.Errorf("unused key %s after the hold's run: %s (exists %v), want Inactive, kept to its day", old, got, exists)
	}
	i := slices.IndexFunc(res.Users, func(u workflow.UserResult) bool { return u.UserName == "ci-bot" })
	if i < 0 || !strings.Contains(res.Users[i].Hold, "not made active again") {
		t.Errorf("result %+v, want the user's hold to say the key was not made active again", res.Users)
	}
}

// TestHoldReactivatesNoKeyItsOwnerDeactivatedUnderAForgedRecord: a forged deactivated tag
// leaves the rotator unsure who deactivated the Inactive keys it did not record: it then
// waits for their KeyDeactivated notice before deleting them (a forged record only
// postpones), but that is no record that it deactivated them. A hold's reactivation, which
// picks the key the rotator deactivated most recently, makes active again the key the
// rotator deactivated, never the one its owner deactivated (make faults -rare seed 11, day
// 70, on 8c97147: the forgery and the rotator's deactivation on the same day recorded both
// keys alike, and the owner's key, whose ID sorts last, was made active).
func TestHoldReactivatesNoKeyItsOwnerDeactivatedUnderAForgedRecord(t *testing.T) {
	h := scenario.New(t)
	old := h.TaggedUser("ci-bot", nil, 95)[0] // no usable email: deactivated at 90 days
	// The owner's own key, deactivated by the owner, whose ID sorts after the old key's (the
	// tie of two records of the same day goes to the greater ID).
	var own string
	for own == "" || own < old {
		if own != "" {
			scenario.Must(h.W.DeleteKey(scenario.Account, own))
		}
		var err error
		own, _, err = h.W.AddKey(scenario.Account, "ci-bot", h.Now.AddDate(0, 0, -3), types.StatusTypeInactive)
		scenario.Must(err)
	}
	// Forged (unsigned): the owner's key deactivated long ago, not by the rotator.
	scenario.Must(h.W.SetTag(scenario.Account, "ci-bot", history.DeactivatedTag,
		history.FormatDeactivated(map[string]history.Inactive{own: {Since: h.Now.AddDate(0, 0, -30)}})))
	h.Now = h.Now.Add(time.Minute)
	h.Day()
	if got := h.Keys("ci-bot"); got[old] != types.StatusTypeInactive || got[own] != types.StatusTypeInactive {
		t.Fatalf("after the deactivation's run: keys %v, want %s (the rotator's) and %s (the owner's) Inactive", got, old, own)
	}
	h.Hold([]workflow.HoldRequest{{Account: scenario.Account, User: "ci-bot", Until: h.Now.AddDate(0, 0, 5).Format(time.DateOnly), Reason: "INC-4711", Reactivate: true}})
	h.Day()
	if got := h.Keys("ci-bot"); got[own] != types.StatusTypeInactive || got[old] != types.StatusTypeActive {
		t.Errorf("after the hold's run: keys %v, want the rotator's %s Active and the owner's %s still Inactive", got, old, own)
	}
}
