// Package bench measures the rotator at scale on the local stand-in (make bench-scale): it
// seeds an organization, runs one execution of the real workflow through the local runner,
// scans the same organization the way the rotator's predecessor did (per user), and writes
// the figures side by side, with the cost of a daily run at list prices and a projection to
// 10,000 accounts.
package bench

import (
	"fmt"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// Size is the organization's shape: Accounts accounts of five users with mixed key ages,
// one account of NoticeUsers users who each need only a notice, and one quiet account of
// QuietUsers users where nothing is due (plus the management account, without users).
type Size struct {
	Accounts    int
	NoticeUsers int
	QuietUsers  int
}

// DefaultSize is the organization the scale goals are measured on.
var DefaultSize = Size{Accounts: 1000, NoticeUsers: 600, QuietUsers: 1000}

// The names of the two large accounts; the others are mixed-NNNN.
const (
	NoticeAccount = "notices"
	QuietAccount  = "quiet"
)

// mixedUsers are the five users of a mixed account, with what the policy decides for them
// today (90-day limit, new key at 80, 10 days' notice): two with nothing due, one whose key
// is replaced (a new key, its hand-off secret and an email with it), one whose unused
// Inactive key is deleted, and one told that a key will be deactivated (two Active keys: no
// new key can be issued). The quiet users' key ages vary by account.
func mixedUsers(account int) []sandbox.User {
	used := func(days int) *int { return &days }
	user := func(name string, keys ...sandbox.Key) sandbox.User {
		return sandbox.User{Name: name, Tags: map[string]string{"EmailID": fmt.Sprintf("%s-%04d@example.com", name, account)}, Keys: keys}
	}
	return []sandbox.User{
		user("app", sandbox.Key{Status: "Active", AgeDays: 5 + account%20, LastUsedDaysAgo: used(1)}),
		user("ci", sandbox.Key{Status: "Active", AgeDays: 40 + account%30, LastUsedDaysAgo: used(0)}),
		user("deploy", sandbox.Key{Status: "Active", AgeDays: 85, LastUsedDaysAgo: used(1)}),
		user("legacy", sandbox.Key{Status: "Inactive", AgeDays: 132}, sandbox.Key{Status: "Active", AgeDays: 40, LastUsedDaysAgo: used(2)}),
		user("etl", sandbox.Key{Status: "Active", AgeDays: 85, LastUsedDaysAgo: used(1)}, sandbox.Key{Status: "Active", AgeDays: 84, LastUsedDaysAgo: used(1)}),
	}
}

// QuietKeyDays bounds the quiet users' key ages: 1 to 60 days, nothing due at the
// organization's limit, most old enough for a RotationDays tag to matter (so the scan reads
// every user's tags).
const QuietKeyDays = 60

// Organization is the scenario of a given size. Credential reports behave as on AWS on a
// daily run: each account's last report is yesterday's (24 hours old), so IAM makes a new
// one when the run asks, and serves it for 4 hours.
func Organization(size Size) *sandbox.Scenario {
	reportAge := 24
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		AllowedEmailDomains: []string{"example.com"}, CredentialReportHoursAgo: &reportAge}
	for a := range size.Accounts {
		sc.Accounts = append(sc.Accounts, sandbox.Account{Name: fmt.Sprintf("mixed-%04d", a), Users: mixedUsers(a)})
	}
	used := 1
	notices := sandbox.Account{Name: NoticeAccount}
	for i := range size.NoticeUsers {
		notices.Users = append(notices.Users, sandbox.User{Name: fmt.Sprintf("owner-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("owner-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 85, LastUsedDaysAgo: &used}, {Status: "Active", AgeDays: 84, LastUsedDaysAgo: &used}}})
	}
	quiet := sandbox.Account{Name: QuietAccount}
	for i := range size.QuietUsers {
		quiet.Users = append(quiet.Users, sandbox.User{Name: fmt.Sprintf("svc-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("svc-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 1 + i%QuietKeyDays, LastUsedDaysAgo: &used}}})
	}
	return withUsers(sc, notices, quiet)
}

// withUsers adds the large accounts that have users (a size may leave one out).
func withUsers(sc *sandbox.Scenario, accounts ...sandbox.Account) *sandbox.Scenario {
	for _, a := range accounts {
		if len(a.Users) > 0 {
			sc.Accounts = append(sc.Accounts, a)
		}
	}
	return sc
}
