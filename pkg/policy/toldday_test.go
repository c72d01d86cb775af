package policy

import (
	"slices"
	"testing"
)

// TestKeyWaitingForTheSecretIsToldOneDay: the older of two Active keys, whose successor
// reached rotate-at while the application's secret does not hold it (StoreBehind), waits for
// the secret N days past its date. With no notice about it on record (its owner changed
// address since), its owner is told that day alone: once, in the DeliveryFailed notice,
// not also in a DeactivationScheduled notice naming the rules' date, which the key would not
// keep; and the plan's key evidence gives the same day (campaign seed 3, day 43: told
// "2026-02-14" and "2026-02-13" in one run, still active on the 13th).
func TestKeyWaitingForTheSecretIsToldOneDay(t *testing.T) {
	cfg := Config{}.WithDefaults()
	k1 := key("K1", Active, 98, 0)
	k1.StoreBehind = "secret app/ci's current value is version v2"
	p := PlanUser(withEmail(k1, key("K2", Active, 97, 60)), cfg, now)
	if want := []string{"DeliveryFailed K1 2026-11-27"}; !slices.Equal(dated(p), want) {
		t.Errorf("notices %v, want %v", dated(p), want)
	}
	if got := p.Keys[0].DeactivateOn; got != "2026-11-27" {
		t.Errorf("K1's deactivateOn %q, want 2026-11-27, the day its owner is told", got)
	}
	if got := actions(p); len(got) != 0 {
		t.Errorf("actions %v, want none", got)
	}
}
