package policy

import (
	"slices"
	"strings"
	"testing"
)

// TestKeyWaitingForItsWarningGivesTheDayItGoesNotADayPast: an Active key whose date has come
// and whose owner has no warning that counts yet stays active; the plan's key evidence (the
// report's deactivateOn) gives the day it goes, never one already past: tomorrow for a
// warning sent today (it counts from the next day; the warning names that day too).
func TestKeyWaitingForItsWarningGivesTheDayItGoesNotADayPast(t *testing.T) {
	cfg := Config{}.WithDefaults()
	// K1's date was 2026-11-20 (95 days old, its replacement 20 days old); no warning yet.
	p := PlanUser(withEmail(key("K1", Active, 95, 0), key("K2", Active, 20, 0)), cfg, now)
	if want := []string{"DeactivationScheduled K1 2026-11-26"}; !slices.Equal(dated(p), want) {
		t.Fatalf("notices %v, want %v", dated(p), want)
	}
	if got := p.Keys[0].DeactivateOn; got != "2026-11-26" {
		t.Errorf("K1's deactivateOn %q, want 2026-11-26, the day its warning names", got)
	}
}

// TestKeyWhoseWarningsNoLongerCountGivesTheEndOfTheBoundedWait: in a run where nothing sent to
// the owner counts (User.Unheard: the address is on SES's suppression list since), a key
// whose date has come waits for the bounded wait, noticePeriod days past its date: the plan
// sends nothing again, gives that day in the key evidence, and says why in its reason
// (campaign seeds 35 and 133: a day already past was reported, and no reason).
func TestKeyWhoseWarningsNoLongerCountGivesTheEndOfTheBoundedWait(t *testing.T) {
	cfg := Config{}.WithDefaults()
	u := withEmail(key("K1", Active, 95, 0), key("K2", Active, 20, 0))
	u.NoticesUnconfirmed = []NoticeRef{{Kind: DeactivationScheduled, AccessKeyID: "K1"}}
	u.Unheard = "the owner's address is on SES's suppression list"
	p := PlanUser(u, cfg, now)
	if len(p.Notices) != 0 || len(p.Actions) != 0 {
		t.Errorf("notices %v, actions %v; want none: the key waits, nothing is sent again", dated(p), actions(p))
	}
	if got := p.Keys[0].DeactivateOn; got != "2026-11-30" {
		t.Errorf("K1's deactivateOn %q, want 2026-11-30, the bounded wait's end", got)
	}
	if !strings.Contains(p.Reason, "K1") || !strings.Contains(p.Reason, "2026-11-30") || !strings.Contains(p.Reason, u.Unheard) {
		t.Errorf("reason %q does not say why K1 stays active and until when", p.Reason)
	}
	u.Unheard, u.NoticesSent, u.NoticesUnconfirmed = "", u.NoticesUnconfirmed, nil
	if p := PlanUser(u, cfg, now); len(p.Actions) != 1 || p.Actions[0].Action != DeactivateKey {
		t.Errorf("with the warning counted, actions %v; want K1 deactivated", actions(p))
	}
}

// TestSecretBehindKeyWhoseFailureNoticeNoLongerCountsGivesTheEndOfTheBoundedWait: a key whose
// successor the application's secret does not hold (StoreBehind) was told the day it goes in a
// DeliveryFailed notice that no longer counts (User.Unheard: the notice sent again by a run that
// sees bounces bounced, the first one was sent by a run that could not). Past that day it waits
// for the bounded wait, noticePeriod days later: the plan sends nothing again, gives that day in
// the key evidence, and says why in its reason (campaign seed 118 on 82ef4ee: tomorrow was
// reported every day, with "nothing due", until the key went ten days past the day told).
func TestSecretBehindKeyWhoseFailureNoticeNoLongerCountsGivesTheEndOfTheBoundedWait(t *testing.T) {
	cfg := Config{}.WithDefaults()
	// K1's date was 2026-11-14 (101 days old, its successor K2 21 days old); the day its
	// DeliveryFailed notice gave, 2026-11-24, is past.
	k1 := key("K1", Active, 101, 0)
	k1.StoreBehind = "SSM parameter /app/ci's current value is version 4, not the rotator's write of key K2"
	u := withEmail(k1, key("K2", Active, 21, 0))
	u.NoticesUnconfirmed = []NoticeRef{{Kind: NewKeyIssued, AccessKeyID: "K1"}, {Kind: DeliveryFailed, AccessKeyID: "K1"}}
	u.Unheard = "the owner's address is on SES's suppression list"
	p := PlanUser(u, cfg, now)
	if len(p.Notices) != 0 || len(p.Actions) != 0 {
		t.Errorf("notices %v, actions %v; want none: the key waits, nothing is sent again", dated(p), actions(p))
	}
	if got := p.Keys[0].DeactivateOn; got != "2026-12-04" {
		t.Errorf("K1's deactivateOn %q, want 2026-12-04, the bounded wait's end", got)
	}
	if !strings.Contains(p.Reason, "K1") || !strings.Contains(p.Reason, "2026-12-04") || !strings.Contains(p.Reason, u.Unheard) {
		t.Errorf("reason %q does not say why K1 stays active and until when", p.Reason)
	}
	if p := PlanUser(u, cfg, now.Add(8*day)); len(p.Actions) != 0 || p.Keys[0].DeactivateOn != "2026-12-04" {
		t.Errorf("the day before the wait ends: actions %v, deactivateOn %q; want none, 2026-12-04", actions(p), p.Keys[0].DeactivateOn)
	}
	if p := PlanUser(u, cfg, now.Add(9*day)); len(p.Actions) != 1 || p.Actions[0].Action != DeactivateKey {
		t.Errorf("on the day the wait ends, actions %v; want K1 deactivated", actions(p))
	}
	u.Unheard, u.NoticesSent, u.NoticesUnconfirmed = "", u.NoticesUnconfirmed, nil
	if p := PlanUser(u, cfg, now); len(p.Actions) != 1 || p.Actions[0].Action != DeactivateKey {
		t.Errorf("with the notice counted, actions %v; want K1 deactivated", actions(p))
	}
}
