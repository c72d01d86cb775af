package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestE2EUsageEvidence: every owner email about an existing key says when,
// with which service and in which region IAM last saw it used, or that it never was; the
// reminders after a new key say whether it is used yet; report.csv carries the evidence per
// key, and the support email names the owner whose old key, still in use, goes within two
// days. On the stand-in, GetAccessKeyLastUsed answers with the scenario's service and region.
//
// Day 0: alice (85 days, used with s3 in eu-west-1) gets a new key; carol (89 days, used
// today with ec2 in eu-central-1, a 9-day-old key of her own never used) is warned and at
// risk; erin's key, never used, is deleted. alice then uses her new key (sts). Day 1: carol's
// old key is deactivated, her new key still unused. Day 10: alice's old key is deactivated,
// her new key in use.
func TestE2EUsageEvidence(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/usage.json")
	prod := o.id(t, "prod")

	before := o.state(t, "prod")["prod"]
	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	ms := mails(t, ex, dir)
	aliceOld := userNamed(t, before, "alice").Keys[0]
	carolOld, carolNew := userNamed(t, before, "carol").Keys[0], userNamed(t, before, "carol").Keys[1]
	erinKey := userNamed(t, before, "erin").Keys[0]
	if carolOld.CreateDate.After(carolNew.CreateDate) {
		carolOld, carolNew = carolNew, carolOld
	}
	checkSays(t, ms, "alice@example.com", "New AWS access key",
		"Access key "+aliceOld.AccessKeyID+" "+lastUsedText(aliceOld, "s3", "eu-west-1")+".")
	checkSays(t, ms, "carol@example.com", "will be deactivated on",
		"Access key "+carolOld.AccessKeyID+" "+lastUsedText(carolOld, "ec2", "eu-central-1")+".",
		"Your newer key "+carolNew.AccessKeyID+" has not been used yet.")
	checkSays(t, ms, "erin@example.com", "Unused AWS access key",
		"Access key "+erinKey.AccessKeyID+" was never used.")

	// report.csv: per key, its last use, and for carol's old key that the newer key is unused
	// and that it is at risk.
	rows := csvRows(t, ex)
	wantRows := map[string][]string{
		"alice CreateKey " + aliceOld.AccessKeyID: {aliceOld.LastUsedDate.UTC().Format(time.RFC3339), "s3", "eu-west-1", "", "", "false"},
		"carol  " + carolOld.AccessKeyID:          {carolOld.LastUsedDate.UTC().Format(time.RFC3339), "ec2", "eu-central-1", "false", "", "true"},
		"carol  " + carolNew.AccessKeyID:          {"", "", "", "", "", "false"},
	}
	for key, want := range wantRows {
		got, ok := rows[key]
		if !ok {
			t.Errorf("report.csv has no row %q: %v", key, slices.Collect(maps.Keys(rows)))
			continue
		}
		got[4] = "" // deactivate_on: checked through the support email below
		if !slices.Equal(got, want) {
			t.Errorf("report.csv row %q: usage columns %q, want %q", key, got, want)
		}
	}
	support := findMail(t, ms, "cloud-support@example.com", "IAM access key rotation report")
	due := carolNew.CreateDate.AddDate(0, 0, 10).UTC().Format(time.DateOnly)
	if want := fmt.Sprintf("At risk: carol in %s (prod): key %s is deactivated on %s and %s; newer key %s never used",
		prod, carolOld.AccessKeyID, due, lastUsedText(carolOld, "ec2", "eu-central-1"), carolNew.AccessKeyID); !strings.Contains(oneLine(support.Text), want) {
		t.Errorf("the support email does not say %q:\n%s", want, support.Text)
	}
	if strings.Contains(support.Text, "At risk: alice") {
		t.Errorf("the support email names alice, whose key is deactivated in 10 days:\n%s", support.Text)
	}

	// alice starts using her new key.
	aliceNew := newestKey(t, o.state(t, "prod")["prod"], "alice")
	if err := sandbox.Backdate(context.Background(), o.sb.URL, prod, "alice", aliceNew.AccessKeyID, aliceNew.CreateDate,
		&sandbox.LastUse{Date: time.Now(), Service: "sts", Region: "eu-west-1"}); err != nil {
		t.Fatal(err)
	}

	// Day 1: carol's old key goes; the notice says it was still used, and her new key is not.
	o.advance(t, 24*time.Hour)
	before = o.state(t, "prod")["prod"]
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	carolOld = keyNamed(t, before, "carol", carolOld.AccessKeyID)
	checkSays(t, mails(t, ex, dir), "carol@example.com", "was deactivated",
		"Access key "+carolOld.AccessKeyID+" "+lastUsedText(carolOld, "ec2", "eu-central-1")+".",
		"Your newer key "+carolNew.AccessKeyID+" has not been used yet.")

	// Day 10: alice's old key goes; her new key is in use.
	o.advance(t, 9*24*time.Hour)
	before = o.state(t, "prod")["prod"]
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	aliceOld, aliceNew = keyNamed(t, before, "alice", aliceOld.AccessKeyID), keyNamed(t, before, "alice", aliceNew.AccessKeyID)
	checkSays(t, mails(t, ex, dir), "alice@example.com", "was deactivated",
		"Access key "+aliceOld.AccessKeyID+" "+lastUsedText(aliceOld, "s3", "eu-west-1")+".",
		"Your newer key "+aliceNew.AccessKeyID+" "+lastUsedText(aliceNew, "sts", "eu-west-1")+".")
}

// lastUsedText is how an owner's email must state k's last use, IAM having recorded the
// given service and region (the stand-in answers N/A for a key never used).
func lastUsedText(k sandboxtest.Key, service, region string) string {
	if k.LastUsedDate == nil {
		return "was never used"
	}
	return fmt.Sprintf("was last used on %s with %s in %s", k.LastUsedDate.UTC().Format("2006-01-02 at 15:04 UTC"), service, region)
}

// checkSays: the one email to `to` whose subject contains subject says every line of want.
func checkSays(t *testing.T, ms []mail, to, subject string, want ...string) {
	t.Helper()
	m := findMail(t, ms, to, subject)
	for _, w := range want {
		if !strings.Contains(oneLine(m.Text), w) {
			t.Errorf("email %q to %s does not say %q:\n%s", m.Subject, to, w, m.Text)
		}
	}
}

func findMail(t *testing.T, ms []mail, to, subject string) mail {
	t.Helper()
	var found []mail
	for _, m := range ms {
		if slices.Equal(m.Destinations, []string{to}) && strings.Contains(m.Subject, subject) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		// Each one's ID, time and subject: a copy sent again (a retried NotifyUser, an SDK
		// retry of SendEmail whose first answer was lost) shows as the same subject twice.
		var seen strings.Builder
		for _, m := range found {
			fmt.Fprintf(&seen, "\n  %s %s %q", m.ID, m.Sent.Format(time.RFC3339Nano), m.Subject)
		}
		t.Fatalf("%d emails to %s with %q in the subject, want 1:%s", len(found), to, subject, seen.String())
	}
	return found[0]
}

// oneLine joins a text body's lines and spaces, so that a sentence reads whole.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// csvRows returns report.csv's usage columns (last_used to at_risk) by "user action key".
func csvRows(t *testing.T, ex *runner.Execution) map[string][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(ex.ReportCSV)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("report.csv: %v", err)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	out := map[string][]string{}
	for _, r := range rows[1:] {
		out[r[col["user"]]+" "+r[col["action"]]+" "+r[col["access_key_id"]]] = r[col["last_used"] : col["at_risk"]+1]
	}
	return out
}

// csvColumn returns report.csv's column on each of user's rows.
func csvColumn(t *testing.T, ex *runner.Execution, user, column string) []string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(ex.ReportCSV)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("report.csv: %v", err)
	}
	userCol, col := slices.Index(rows[0], "user"), slices.Index(rows[0], column)
	if col < 0 {
		t.Fatalf("report.csv has no column %s: %q", column, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		if r[userCol] == user {
			out = append(out, r[col])
		}
	}
	return out
}

// userResult is user's result in report.json (the first account that lists it).
func userResult(t *testing.T, ex *runner.Execution, user string) workflow.UserResult {
	t.Helper()
	for _, a := range ex.Report.Accounts {
		for _, u := range a.Users {
			if u.UserName == user {
				return u
			}
		}
	}
	t.Fatalf("report.json lists no user %s", user)
	return workflow.UserResult{}
}

func keyNamed(t *testing.T, users []sandboxtest.User, user, id string) sandboxtest.Key {
	t.Helper()
	for _, k := range userNamed(t, users, user).Keys {
		if k.AccessKeyID == id {
			return k
		}
	}
	t.Fatalf("%s has no key %s", user, id)
	return sandboxtest.Key{}
}

func newestKey(t *testing.T, users []sandboxtest.User, user string) sandboxtest.Key {
	t.Helper()
	keys := userNamed(t, users, user).Keys
	return slices.MaxFunc(keys, func(a, b sandboxtest.Key) int { return a.CreateDate.Compare(b.CreateDate) })
}
