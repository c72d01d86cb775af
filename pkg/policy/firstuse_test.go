package policy

import (
	"slices"
	"testing"
)

// TestUnreadableDestinationWaitsForTheNewKeysFirstUse: for a user whose keys go where nobody
// can read them back (a GitHub secret, User.AwaitsFirstUse), the old key is deactivated on its
// date only once its replacement was used; a replacement unused by the date minus N/2 gets
// the owner told (DeliveryFailed) the day the old key goes, N days past its date, and the old
// key goes then once told, 2N at most (the bounded wait). Another user's keys are not held by
// their replacement's use.
func TestUnreadableDestinationWaitsForTheNewKeysFirstUse(t *testing.T) {
	cfg := Config{}.WithDefaults()
	github := func(u User) User { u.AwaitsFirstUse = true; return u }
	told := func(u User, id string) User {
		u.NoticesSent = append(u.NoticesSent, NoticeRef{DeliveryFailed, id})
		return u
	}
	for _, tc := range []struct {
		name             string
		user             User
		actions, notices []string
	}{
		{"new key unused, before the date minus N/2: nothing yet", github(warned(withEmail(key("K1", Active, 84, 0), key("K2", Active, 4, -1)), "K1")),
			[]string{}, []string{}},
		{"new key unused on the date minus N/2: the owner told the day K1 goes, N past its date", github(warned(withEmail(key("K1", Active, 85, 0), key("K2", Active, 5, -1)), "K1")),
			[]string{}, []string{"DeliveryFailed K1 2026-12-10"}},
		{"new key used: nothing to tell", github(warned(withEmail(key("K1", Active, 85, 1), key("K2", Active, 5, 1)), "K1")),
			[]string{}, []string{}},
		{"new key used, on the date: deactivated", github(warned(withEmail(key("K1", Active, 90, 1), key("K2", Active, 10, 1)), "K1")),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-12-05"}},
		{"new key unused on the date, told: kept", github(told(warned(withEmail(key("K1", Active, 90, 0), key("K2", Active, 10, -1)), "K1"), "K1")),
			[]string{}, []string{}},
		{"new key unused on the date, never told: told, kept", github(warned(withEmail(key("K1", Active, 90, 0), key("K2", Active, 10, -1)), "K1")),
			[]string{}, []string{"DeliveryFailed K1 2026-12-05"}},
		{"new key unused, told, N past the date: deactivated (the bounded wait)", github(told(warned(withEmail(key("K1", Active, 100, 0), key("K2", Active, 20, -1)), "K1"), "K1")),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"not awaiting first use: deactivated on the date, new key used or not", warned(withEmail(key("K1", Active, 90, 0), key("K2", Active, 10, -1)), "K1"),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-12-05"}},
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
