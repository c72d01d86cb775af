package bench

import (
	"slices"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// The steady state's rates (estimate.NewKeyEmails, NoticesPerRotation, RotationPeriodDays)
// apply to the users Rotated counts.

// Rotated reports whether the rotator keeps replacing the keys of a user with these tags and
// keys: one is Active, the user is not exempt and has a usable email (rule 6: no new key
// without one). cfg must be defaulted. A KeyDelivery user (a machine user whose key goes to
// its application's secret) is rotated too, but mailed otherwise: the bench seeds none.
func Rotated(tags map[string]string, keys []sandbox.Key, cfg policy.Config) bool {
	email, _ := policy.OwnerEmail(tags, cfg)
	return email != "" && !policy.Exempt(tags, cfg) && slices.ContainsFunc(keys, func(k sandbox.Key) bool { return k.Status == "Active" })
}

// RotatedUsers counts the users of sc that the rotator rotates in the steady state: Rotated,
// in an account it scans (the management account, and the members it does not exclude).
func RotatedUsers(sc *sandbox.Scenario) int {
	cfg := policy.Config{AllowedEmailDomains: sc.AllowedEmailDomains}.WithDefaults()
	scanned := []sandbox.Account{sc.ManagementAccount}
	for _, a := range sc.Accounts {
		if !sc.Excluded(a) {
			scanned = append(scanned, a)
		}
	}
	n := 0
	for _, a := range scanned {
		for _, u := range a.Users {
			if Rotated(u.Tags, u.Keys, cfg) {
				n++
			}
		}
	}
	return n
}
