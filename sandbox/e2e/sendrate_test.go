package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestE2EOneSendRateForTheRun: 6 accounts processed 3 at a time, each with 3 notifications
// sent 3 at a time (up to 9 NotifyUser invocations at once, the runner's warm instances
// allowing), at a send rate of 2 per second for the whole run: every email goes out, and
// in no second does SES accept more than 2 (the stand-in stamps each message with the time
// SES received it).
func TestE2EOneSendRateForTheRun(t *testing.T) {
	t.Parallel()
	const accounts, rate = 6, 2
	used := 1
	sc := &sandbox.Scenario{ManagementAccount: sandbox.Account{Name: "management"}, MemberRole: "provisioning-admin",
		SenderEmail: "iam-key-rotator@example.com", SupportEmail: "cloud-support@example.com", CredentialReportHoursAgo: new(int)}
	*sc.CredentialReportHoursAgo = reportHoursAgo
	for a := range accounts {
		acct := sandbox.Account{Name: fmt.Sprintf("team-%d", a)}
		// A new key (its zip and its password: 2 emails), and two unused keys deleted (1 each).
		acct.Users = append(acct.Users, sandbox.User{Name: "builder", Tags: map[string]string{"EmailID": fmt.Sprintf("builder-%d@example.com", a)},
			Keys: []sandbox.Key{{Status: "Active", AgeDays: 85, LastUsedDaysAgo: &used}}})
		for i := range 2 {
			acct.Users = append(acct.Users, sandbox.User{Name: fmt.Sprintf("idle-%d", i), Tags: map[string]string{"EmailID": fmt.Sprintf("idle-%d-%d@example.com", a, i)},
				Keys: []sandbox.Key{{Status: "Active", AgeDays: 120}}})
		}
		sc.Accounts = append(sc.Accounts, acct)
	}
	sb := sandboxtest.New(t, sc)
	checkAlerts(t, sb)
	s, err := sb.Settings(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	settings := runner.SettingsFrom(s)
	settings.MapConcurrency, settings.NotifyConcurrency, settings.SESMaxSendRate = 3, 3, rate
	ex, err := runner.Run(context.Background(), runner.Options{Endpoint: sb.URL, Input: json.RawMessage(`{}`), Settings: settings,
		BinDir: binDir, RetryInterval: 50 * time.Millisecond, MaxInstances: 9})
	if err != nil {
		t.Fatal(err)
	}
	mustSucceed(t, ex)
	if want := accounts * 4; len(ex.Emails) != want || ex.Report.Totals.NotifyFailures != 0 || ex.Report.Run.SendRate != rate {
		t.Fatalf("%d emails (want %d), %d notifications failed, the run's rate %d (want %d)",
			len(ex.Emails), want, ex.Report.Totals.NotifyFailures, ex.Report.Run.SendRate, rate)
	}
	perSecond := map[int64][]string{}
	for _, e := range ex.Emails {
		if e.Sent.IsZero() {
			t.Fatalf("email %s has no time: the stand-in stamps every message", e.ID)
		}
		perSecond[e.Sent.Unix()] = append(perSecond[e.Sent.Unix()], e.Sent.Format("15:04:05.000"))
	}
	for second, at := range perSecond {
		if len(at) > rate {
			t.Errorf("%d emails accepted in second %s (at %v), over the run's rate of %d", len(at), time.Unix(second, 0).UTC().Format(time.RFC3339), at, rate)
		}
	}
	most, at := runner.BusiestSecond(ex.Emails)
	first, last := ex.Emails[0].Sent, ex.Emails[len(ex.Emails)-1].Sent
	t.Logf("%d emails at %d per second over %s: at most %d in one second (%s)", len(ex.Emails), rate,
		last.Sub(first).Round(time.Millisecond), most, at.Format(time.RFC3339))
}
