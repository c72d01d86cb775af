package policy

import (
	"slices"
	"testing"
)

// A key whose successor the application's secret does not hold (StoreBehind) waits for the
// secret's bounded wait whatever the successor's age: under the shortest limit (30 days: new
// key at 20, notice period 10) the successor reaches rotate-at before that wait ends, and
// is no longer the key's replacement for rule 4, but the application may still read the
// old key (invariant 10; campaign seed 35 on a696beb).
func TestKeyBehindItsSecretWaitsWhenItsSuccessorReachesRotationAge(t *testing.T) {
	cfg := Config{}.WithDefaults()
	behind := func(k Key) Key { k.StoreBehind = "secret app/ci's current value is version v2"; return k }
	short := func(u User) User { u.Tags[RotationDaysTag] = "30"; return u }
	told := func(u User) User { u.NoticesSent = append(u.NoticesSent, NoticeRef{DeliveryFailed, "K1"}); return u }
	for _, tc := range []struct {
		name             string
		user             User
		actions, notices []string
	}{
		// K1's date: K2's creation plus N, 12 days ago; the wait ends 2N past it, in 8 days.
		{"never told, the successor past rotate-at: told, kept", short(withEmail(behind(key("K1", Active, 47, 0)), key("K2", Active, 22, 0))),
			[]string{}, []string{"DeliveryFailed K1 2026-11-26"}},
		{"told, the successor past rotate-at, N days past the date: deactivated", told(short(withEmail(behind(key("K1", Active, 47, 0)), key("K2", Active, 22, 0)))),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"never told, 2N days past the date: deactivated", short(withEmail(behind(key("K1", Active, 55, 0)), key("K2", Active, 30, 0))),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanUser(tc.user, cfg, now)
			if got := actions(p); !slices.Equal(got, tc.actions) {
				t.Errorf("actions %v, want %v", got, tc.actions)
			}
			if got := dated(p); !slices.Equal(got, tc.notices) {
				t.Errorf("notices %v, want %v", got, tc.notices)
			}
		})
	}
}
