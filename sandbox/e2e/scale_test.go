package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// Sizes of TestE2EPayloadsAndHistoryAtScale, chosen to run in CI time on 2 cores: one
// account whose owners each get one notice (550 notices in one account's payload measured
// 275 KB before they went to S3) and quietAccounts accounts where nothing is due.
const (
	noticeUsers   = 550
	quietAccounts = 60
)

// scaleOrganization is an organization with one account of n users who each hold two
// Active keys of 85 and 84 days (no new key can be issued: each is told that the older one
// will be deactivated, a notice and nothing else) and quiet accounts of 2 young keys each.
func scaleOrganization(n, quiet int) *sandbox.Scenario {
	used := 1
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com",
		Accounts: []sandbox.Account{{Name: "notices"}}, CredentialReportHoursAgo: new(int),
		// IAM enforced as in the rest of the suite; SES not in its sandbox: at 1 message per
		// second the 550 notices alone would take 9 minutes.
		EnforceIAM: true}
	*sc.CredentialReportHoursAgo = reportHoursAgo
	for i := range n {
		sc.Accounts[0].Users = append(sc.Accounts[0].Users, sandbox.User{Name: fmt.Sprintf("owner-%04d", i),
			Tags: map[string]string{"EmailID": fmt.Sprintf("owner-%04d@example.com", i)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 85, LastUsedDaysAgo: &used}, {Status: "Active", AgeDays: 84, LastUsedDaysAgo: &used}}})
	}
	for a := range quiet {
		acct := sandbox.Account{Name: fmt.Sprintf("quiet-%03d", a)}
		for i := range 2 {
			acct.Users = append(acct.Users, sandbox.User{Name: fmt.Sprintf("app-%d", i),
				Tags: map[string]string{"EmailID": fmt.Sprintf("app-%d-%d@example.com", a, i)},
				Keys: []sandbox.Key{{Status: "Active", AgeDays: 10 + i, LastUsedDaysAgo: &used}}})
		}
		sc.Accounts = append(sc.Accounts, acct)
	}
	return sc
}

// TestE2EPayloadsAndHistoryAtScale runs the workflow on noticeUsers notices in one account
// and 2 + quietAccounts accounts (the management account included), under the runner's enforcement of Step Functions' payload
// and history limits: every account is done, every owner notified, and the largest payload
// and the most events of one execution are small and do not grow with the organization.
func TestE2EPayloadsAndHistoryAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the scale run takes minutes")
	}
	start := time.Now()
	sb := sandboxtest.New(t, scaleOrganization(noticeUsers, quietAccounts))
	checkAlerts(t, sb)
	s, err := sb.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seeded := time.Since(start)
	settings := runner.SettingsFrom(s)
	settings.MapConcurrency, settings.NotifyConcurrency = 8, 8
	settings.Policy.MaxUsers = 500
	// The payloads and history are measured here, not the send rate (TestE2EOneSendRateForTheRun):
	// the stand-in's production quota of 14 per second would add half a minute.
	settings.SESMaxSendRate = 100
	ex := runAudited(t, runner.Options{Endpoint: sb.URL, Input: json.RawMessage(`{}`), Settings: settings,
		BinDir: binDir, RetryInterval: 50 * time.Millisecond, MaxInstances: 8})
	if err := ex.Write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, ex)
	var summary strings.Builder
	ex.Summary(&summary)
	head, _, _ := strings.Cut(summary.String(), "report (")
	t.Logf("seeded in %s, ran in %s: %s", seeded.Round(time.Second), ex.StopDate.Sub(ex.StartDate).Round(time.Second), head)
	mustSucceed(t, ex)
	// The management account is a member of the organization too (it has no users here).
	if ex.Report == nil || len(ex.Report.Accounts) != 2+quietAccounts {
		t.Fatalf("report of %v accounts, want %d", ex.Report != nil && true, 2+quietAccounts)
	}
	for _, a := range ex.Report.Accounts {
		if a.Status != "done" || a.Counts.Failures+a.Counts.NotifyFailures != 0 {
			t.Errorf("account %s: %s %+v %s", a.Account.Name, a.Status, a.Counts, a.Error)
		}
	}
	if ex.Report.Totals.Notices != noticeUsers || len(ex.Emails) != noticeUsers {
		t.Errorf("%d notices, %d emails; want %d of each", ex.Report.Totals.Notices, len(ex.Emails), noticeUsers)
	}
	// 1 execution, 2 + quietAccounts account executions, one notification execution each.
	if want := 1 + 2 + quietAccounts + noticeUsers; ex.Stats.Executions != want {
		t.Errorf("%d executions, want %d", ex.Stats.Executions, want)
	}
	// The largest payload is NotifyOwners' collected result, 15 to 18 bytes per notification
	// (ScanAndRotate queues at most rotate.DefaultMaxNotifications, 550: under 10 KB), not
	// 275 KB of notifications; the most events are the execution's or an account's, a few dozen.
	if ex.Stats.LargestPayload > 10<<10 || ex.Stats.MostEvents > 100 {
		t.Errorf("largest payload %d bytes (%s), most events %d (%s): they grow with the organization",
			ex.Stats.LargestPayload, ex.Stats.LargestPayloadAt, ex.Stats.MostEvents, ex.Stats.MostEventsIn)
	}
}
