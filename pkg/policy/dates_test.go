package policy

import (
	"slices"
	"testing"
)

// TestWarningOfALegacyKeyNamesADayNotPast is the example of a review: on a first run over legacy
// keys, the owner of a 91-day key with an 11-day-old replacement must not be told a day
// already past. The key is deactivated on the first run after the warning was delivered
// (tomorrow), so that is the day the warning names, and the day the key goes.
func TestWarningOfALegacyKeyNamesADayNotPast(t *testing.T) {
	u := withEmail(key("A", Active, 91, 0), key("B", Active, 11, 0))
	p := PlanUser(u, Config{}.WithDefaults(), now)
	if got, want := notices(p), []string{"DeactivationScheduled A 2026-11-26"}; !slices.Equal(got, want) {
		t.Fatalf("on %s the owner is told %v, want %v", dateOf(now), got, want)
	}
	if len(p.Actions) > 0 {
		t.Fatalf("deactivated the day of its warning: %v", actions(p))
	}
	// The warning was delivered today: tomorrow's run deactivates the key, the day it named.
	u.NoticesSent = append(u.NoticesSent, NoticeRef{DeactivationScheduled, "A"})
	tomorrow := now.Add(day)
	if p := PlanUser(u, Config{}.WithDefaults(), tomorrow); !slices.Equal(actions(p), []string{"DeactivateKey A"}) {
		t.Fatalf("on %s, the day announced, the plan is %v", dateOf(tomorrow), actions(p))
	}
}

// TestUnusedKeyIsNotDeletedBeforeTheDayItsOwnerWasTold: a key the rotator deactivated, whose
// owner was told "it will be deleted on D", is not deleted earlier because it then reaches
// the unused limit (rule 2): the owner was promised D.
func TestUnusedKeyIsNotDeletedBeforeTheDayItsOwnerWasTold(t *testing.T) {
	// Deactivated 3 days ago at 90 days, beside its 10-day replacement: told it goes on
	// day 100 of its life (2026-12-02); last used 90 days ago, it is unused from today.
	u := withEmail(byRotator(deactivatedAgo(key("A", Inactive, 93, 90), 3)), key("B", Active, 13, 0))
	u.NoticesSent = []NoticeRef{{NewKeyIssued, "A"}, {KeyDeactivated, "A"}}
	cfg := Config{}.WithDefaults()
	told := dateOf(now.Add(days(7)))
	for d := 0; d <= 7; d++ {
		today := now.Add(days(d))
		p := PlanUser(u, cfg, today)
		deleted := slices.Contains(actions(p), "DeleteKey A")
		if deleted != (dateOf(today) == told) {
			t.Fatalf("on %s (told %s) the plan is %v", dateOf(today), told, actions(p))
		}
	}
}
