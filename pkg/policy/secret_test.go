package policy

import (
	"slices"
	"testing"
)

// dated renders a plan's notices as "Kind KEY ActBy".
func dated(p UserPlan) []string {
	out := []string{}
	for _, n := range p.Notices {
		out = append(out, string(n.Kind)+" "+n.AccessKeyID+" "+n.ActBy)
	}
	return out
}

// A user whose keys cannot be delivered to its application's secret (SecretProblem) gets no
// new key, and its owner, whose email stays usable, is told why (DeliveryFailed) with the
// day the key goes, N days past its date: the key goes on that day once that notice was
// delivered on an earlier day, also when the failure was fixed since (invariant 8), or on it
// without the notice (the bounded wait, DESIGN.md invariant 9). A key whose successor went to the
// secret, when the secret no longer holds it (StoreBehind), goes N days past its date once
// the owner was told, 2N at most (invariant 10).
func TestDeliveryToASecretThatFailsTellsTheOwnerFirst(t *testing.T) {
	cfg := Config{}.WithDefaults()
	refused := func(u User) User { u.SecretProblem = "secret app/ci refuses the keys of ci"; return u }
	told := func(u User, id string) User {
		u.NoticesSent = append(u.NoticesSent, NoticeRef{DeliveryFailed, id})
		return u
	}
	behind := func(k Key) Key { k.StoreBehind = "secret app/ci's current value is version v2"; return k }
	for _, tc := range []struct {
		name             string
		user             User
		actions, notices []string
	}{
		{"refused at rotation: told, no key", refused(withEmail(key("K1", Active, 80, 0))), []string{},
			[]string{"DeliveryFailed K1 2026-12-15"}},
		{"refused on the key's date, never told: told, not deactivated", refused(withEmail(key("K1", Active, 92, 0))), []string{},
			[]string{"DeliveryFailed K1 2026-12-03"}},
		{"refused on the key's date, told before: kept until the day told, N days past it", told(refused(withEmail(key("K1", Active, 90, 0))), "K1"),
			[]string{}, []string{}},
		{"refused, told before, N days past the date: deactivated", told(refused(withEmail(key("K1", Active, 100, 0))), "K1"),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"told of a failure, fixed since (a successor delivered, the secret current): kept until the day told", told(warned(withEmail(key("K1", Active, 95, 0), key("K2", Active, 20, 0)), "K1"), "K1"),
			[]string{}, []string{}},
		{"refused, never told, N days past the date (a legacy key): told first, kept", refused(withEmail(key("K1", Active, 100, 0))),
			[]string{}, []string{"DeliveryFailed K1 2026-11-26"}},
		{"refused, told, N days past the date: deactivated", told(refused(withEmail(key("K1", Active, 100, 0))), "K1"),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"no email: rule 6 as before", refused(noEmail(key("K1", Active, 90, 0))), []string{"DeactivateKey K1"}, []string{}},
		{"secret behind on the date: told, kept", warned(withEmail(behind(key("K1", Active, 90, 0)), key("K2", Active, 10, 0)), "K1"), []string{},
			[]string{"DeliveryFailed K1 2026-12-05"}},
		{"secret behind, told, N days past the date: deactivated", told(warned(withEmail(behind(key("K1", Active, 100, 0)), key("K2", Active, 20, 0)), "K1"), "K1"),
			[]string{"DeactivateKey K1"}, []string{"KeyDeactivated K1 2026-11-26"}},
		{"secret behind, never told, N days past the date: told, kept", warned(withEmail(behind(key("K1", Active, 100, 0)), key("K2", Active, 20, 0)), "K1"), []string{},
			[]string{"DeliveryFailed K1 2026-11-26"}},
		// The wait outlasts the successor's own rotate-at day (a short RotationDays, warnings
		// that could not be seen not to bounce): K2 no longer counts as K1's replacement, and
		// K1 still waits for the secret (campaign seed 14 day 62 after merging main into
		// bounces2: deactivated at the bounded wait, N days, 'a key delivered to a store is
		// deactivated only while the store's current value is its successor').
		{"secret behind, never told, the successor past rotate-at: told, kept", warned(withEmail(behind(key("K1", Active, 105, 0)), key("K2", Active, 85, 0)), "K1"), []string{},
			[]string{"DeliveryFailed K1 2026-11-26"}},
		// Without an email rule 6 decides, the secret behind or not (campaign seed 11 day 0:
		// two legacy keys past the limit, the older one kept by the secret then deactivated by
		// a same-day re-run once the younger was).
		{"no email, the secret behind, both past the limit: rule 6 as before", noEmail(behind(key("K1", Active, 100, 0)), key("K2", Active, 95, 0)),
			[]string{"DeactivateKey K1", "DeactivateKey K2"}, []string{}},
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
