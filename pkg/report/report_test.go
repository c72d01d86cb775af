package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/metrics"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func TestCSV(t *testing.T) {
	used := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	doc := Document{Run: workflow.Run{RunID: "run-1", DryRun: true}, Accounts: []workflow.AccountResult{
		{Account: workflow.Account{AccountID: "111111111111", Name: "prod"}, Status: workflow.AccountDone, Counts: workflow.Counts{IAMCalls: 12}, Users: []workflow.UserResult{
			{UserName: "alice", Status: policy.StatusRotate, Actions: []workflow.ActionResult{
				{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: "AKIAOLD", Reason: "make room, \"quoted\""}},
				{Action: policy.Action{Action: policy.CreateKey, Replaces: "AKIADUE", Reason: "due"}, NewAccessKeyID: "AKIANEW", Done: true}},
				Keys: []policy.KeyUsage{
					{Usage: policy.Usage{AccessKeyID: "AKIADUE", LastUsedDate: &used, Service: "s3", Region: "eu-west-1"}, Status: policy.Active, DeactivateOn: "2026-12-05"},
					{Usage: policy.Usage{AccessKeyID: "AKIAOLD"}, Status: policy.Inactive}},
				Advice: advice.For(advice.Workload)},
			{UserName: "bob", Status: policy.StatusOK, Reason: "nothing due", Advice: advice.For(advice.Person), Keys: []policy.KeyUsage{
				{Usage: policy.Usage{AccessKeyID: "AKIABOB1", LastUsedDate: &used, Service: "ec2", Region: "us-east-1"}, Status: policy.Active,
					Replacement: &policy.Usage{AccessKeyID: "AKIABOB2"}, DeactivateOn: "2026-11-25", AtRisk: true},
				{Usage: policy.Usage{AccessKeyID: "AKIABOB2"}, Status: policy.Active}}},
			{UserName: "erin", Status: policy.StatusOK, Reason: "nothing due", EmailProblem: "no EmailID or Email tag"},
			{UserName: "frank", Status: policy.StatusOK, Reason: "nothing due", RotationDaysProblem: "tag RotationDays=365 is longer"}}},
		{Account: workflow.Account{AccountID: "222222222222", Name: "dev"}, Status: workflow.AccountFailed, Error: "assume role: AccessDenied", Counts: workflow.Counts{IAMCalls: 1}},
		{Account: workflow.Account{AccountID: "333333333333", Name: "migrating"}, Status: workflow.AccountExcluded, Reason: "it is tagged key-rotator:exclude=true (EXCLUDE_ACCOUNT_TAG)"},
	}}
	rows, err := csv.NewReader(strings.NewReader(string(CSV(doc)))).ReadAll()
	if err != nil {
		t.Fatalf("report.csv does not parse: %v", err)
	}
	// A row's usage columns are its key's: the acted-on key (for CreateKey the key it
	// replaces), or each key of a user without an action; the user's advice is on each of its
	// rows.
	workload, person := advice.For(advice.Workload).String(), advice.For(advice.Person).String()
	want := [][]string{
		{"run_id", "account_id", "account_name", "account_status", "iam_calls", "user", "user_status", "action", "access_key_id", "new_access_key_id", "done", "dry_run", "reason", "email_problem", "error", "rotation_days_problem",
			"last_used", "last_used_service", "last_used_region", "replacement_used", "deactivate_on", "at_risk", "advice"},
		{"run-1", "111111111111", "prod", "done", "12", "alice", "rotate", "DeleteKey", "AKIAOLD", "", "false", "true", `make room, "quoted"`, "", "", "",
			"", "", "", "", "", "false", workload},
		{"run-1", "111111111111", "prod", "done", "12", "alice", "rotate", "CreateKey", "AKIADUE", "AKIANEW", "true", "true", "due", "", "", "",
			"2026-11-24T08:05:00Z", "s3", "eu-west-1", "", "2026-12-05", "false", workload},
		{"run-1", "111111111111", "prod", "done", "12", "bob", "ok", "", "AKIABOB1", "", "", "true", "nothing due", "", "", "",
			"2026-11-24T08:05:00Z", "ec2", "us-east-1", "false", "2026-11-25", "true", person},
		{"run-1", "111111111111", "prod", "done", "12", "bob", "ok", "", "AKIABOB2", "", "", "true", "nothing due", "", "", "",
			"", "", "", "", "", "false", person},
		{"run-1", "111111111111", "prod", "done", "12", "erin", "ok", "", "", "", "", "true", "nothing due", "no EmailID or Email tag", "", "",
			"", "", "", "", "", "", ""},
		{"run-1", "111111111111", "prod", "done", "12", "frank", "ok", "", "", "", "", "true", "nothing due", "", "", "tag RotationDays=365 is longer",
			"", "", "", "", "", "", ""},
		{"run-1", "222222222222", "dev", "failed", "1", "", "", "", "", "", "", "true", "", "", "assume role: AccessDenied", "",
			"", "", "", "", "", "", ""},
		{"run-1", "333333333333", "migrating", "excluded", "0", "", "", "", "", "", "", "true", "it is tagged key-rotator:exclude=true (EXCLUDE_ACCOUNT_TAG)", "", "", "",
			"", "", "", "", "", "", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%q", len(rows), len(want), rows)
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d:\n got %q\nwant %q", i, rows[i], want[i])
		}
	}
}

// TestSupportSummaryListsAtRiskOwners: owners whose old key was used within the last 2 days
// and is deactivated within the next 2 are named with the evidence, and bring the support
// email.
func TestSupportSummaryListsAtRiskOwners(t *testing.T) {
	used := time.Date(2026, 11, 24, 8, 5, 0, 0, time.UTC)
	doc := Document{Run: workflow.Run{RunID: "run-1"}, Accounts: []workflow.AccountResult{
		{Account: workflow.Account{AccountID: "111111111111", Name: "prod"}, Status: workflow.AccountDone, Users: []workflow.UserResult{
			{UserName: "bob", Status: policy.StatusOK, Keys: []policy.KeyUsage{
				{Usage: policy.Usage{AccessKeyID: "AKIABOB1", LastUsedDate: &used, Service: "ec2", Region: "us-east-1"}, Status: policy.Active,
					Replacement: &policy.Usage{AccessKeyID: "AKIABOB2"}, DeactivateOn: "2026-11-26", AtRisk: true},
				{Usage: policy.Usage{AccessKeyID: "AKIABOB2"}, Status: policy.Active}}},
			{UserName: "carol", Status: policy.StatusNotify, Keys: []policy.KeyUsage{
				{Usage: policy.Usage{AccessKeyID: "AKIACAROL", LastUsedDate: &used}, Status: policy.Active, DeactivateOn: "2026-12-05"}}}}},
	}}
	if !needsHuman(doc) {
		t.Error("an owner at risk does not bring the support email")
	}
	summary := strings.Join(supportSummary(doc, workflow.Report{JSONKey: "reports/run-1/report.json"}, "bucket"), "\n")
	for _, want := range []string{
		"Owners at risk (an old key used within 2 days and deactivated within 2 days): 1",
		"At risk: bob in 111111111111 (prod): key AKIABOB1 is deactivated on 2026-11-26 and was last used on 2026-11-24 at 08:05 UTC with ec2 in us-east-1; newer key AKIABOB2 never used",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("support summary lacks %q:\n%s", want, summary)
		}
	}
	if strings.Contains(summary, "carol") {
		t.Errorf("support summary names carol, who is not at risk:\n%s", summary)
	}
}

// TestSupportSummaryCountsUsersWithKeysByUse: the support summary counts the organization's
// users with an active key, every use named (0 included), summed over the accounts; report.json
// carries the same totals.
func TestSupportSummaryCountsUsersWithKeysByUse(t *testing.T) {
	doc := Document{Run: workflow.Run{RunID: "run-1"}, Accounts: []workflow.AccountResult{
		{Status: workflow.AccountDone, Counts: workflow.Counts{UsersWithKeys: map[advice.Use]int{advice.AWSWorkload: 2, advice.Person: 1, advice.Unknown: 0}}},
		{Status: workflow.AccountDone, Counts: workflow.Counts{UsersWithKeys: map[advice.Use]int{advice.AWSWorkload: 1, advice.Workload: 4}}},
		{Status: workflow.AccountFailed},
	}}
	for _, a := range doc.Accounts {
		addCounts(&doc.Totals, a.Counts)
	}
	summary := strings.Join(supportSummary(doc, workflow.Report{JSONKey: "reports/run-1/report.json"}, "bucket"), "\n")
	if want := "IAM users with active access keys: 8, by use: github-actions 0, aws-workload 3, workload 4, person 1, unknown 0"; !strings.Contains(summary, want) {
		t.Errorf("support summary lacks %q:\n%s", want, summary)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var back Document
	if err := json.Unmarshal(body, &back); err != nil || back.Totals.UsersWithKeys[advice.AWSWorkload] != 3 || back.Totals.UsersWithKeys[advice.Workload] != 4 {
		t.Errorf("report.json totals %s (%v), want the users with keys by use", body, err)
	}
}

func TestNeedsHuman(t *testing.T) {
	tests := []struct {
		name string
		doc  Document
		want bool
	}{
		{"quiet daily run", Document{Totals: workflow.Counts{KeysCreated: 3, Notices: 5}}, false},
		{"cleanup run", Document{Run: workflow.Run{Cleanup: true}}, true},
		{"user without email", Document{Totals: workflow.Counts{NoUsableEmail: 1}}, true},
		{"deferred users", Document{Totals: workflow.Counts{Deferred: 2}}, true},
		{"user failure", Document{Totals: workflow.Counts{Failures: 1}}, true},
		{"owner not notified", Document{Totals: workflow.Counts{NotifyFailures: 1}}, true},
		{"failed account", Document{Accounts: []workflow.AccountResult{{Status: workflow.AccountFailed}}}, true},
		// ListAccounts reads no tag: a run whose every account turned out tagged for
		// exclusion rotated nothing, as a run that selected none (which fails) would not.
		{"every account excluded by its tag", Document{Accounts: []workflow.AccountResult{{Status: workflow.AccountExcluded}, {Status: workflow.AccountExcluded}}}, true},
		{"some accounts excluded by their tag", Document{Accounts: []workflow.AccountResult{{Status: workflow.AccountExcluded}, {Status: workflow.AccountDone}}}, false},
	}
	for _, tt := range tests {
		if got := needsHuman(tt.doc); got != tt.want {
			t.Errorf("%s: needsHuman = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestEmitsEveryRunMetric: the embedded-metric-format line declares exactly metrics.Runs
// (what the dashboard charts, infra/contract) in their namespace, each with its value.
func TestEmitsEveryRunMetric(t *testing.T) {
	var buf bytes.Buffer
	r := &Handler{Metrics: &buf}
	out := workflow.Report{RunID: "run-1", FailedAccounts: 1, Totals: workflow.Counts{KeysCreated: 2, KeysDeactivated: 3,
		KeysDeleted: 4, Notices: 5, Failures: 6, NotifyFailures: 7, IAMCalls: 8}}
	r.emitMetrics(Document{Run: workflow.Run{RunID: "run-1", Now: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}, Totals: out.Totals}, out)
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("metrics line %q: %v", buf.String(), err)
	}
	var emf struct {
		CloudWatchMetrics []struct {
			Namespace string
			Metrics   []struct{ Name, Unit string }
		}
	}
	b, _ := json.Marshal(line["_aws"])
	if err := json.Unmarshal(b, &emf); err != nil || len(emf.CloudWatchMetrics) != 1 {
		t.Fatalf("_aws %s: want one CloudWatchMetrics directive (%v)", b, err)
	}
	d := emf.CloudWatchMetrics[0]
	var declared []string
	for _, m := range d.Metrics {
		declared = append(declared, m.Name)
	}
	if d.Namespace != metrics.Namespace || !slices.Equal(declared, metrics.Names()) {
		t.Errorf("declares %v in %s, want metrics.Runs %v in %s", declared, d.Namespace, metrics.Names(), metrics.Namespace)
	}
	for _, m := range metrics.Runs {
		if got, want := line[m.Name], float64(m.Value(out)); got != want {
			t.Errorf("%s = %v, want %v", m.Name, got, want)
		}
	}
}

// TestCanaryOfExcludedAccountsIsNoCanary: a run of a few accounts that were all excluded by
// their tag (each ScanAndRotate reports it excluded) rotated nothing: it does not open the
// one-time cleanup.
func TestCanaryOfExcludedAccountsIsNoCanary(t *testing.T) {
	run := workflow.Run{RunID: "run-1", Accounts: []string{"333333333333"}, BouncesSuppressed: true}
	excluded := workflow.AccountResult{Account: workflow.Account{AccountID: "333333333333"}, Status: workflow.AccountExcluded}
	done := excluded
	done.Status = workflow.AccountDone
	for _, tt := range []struct {
		name     string
		accounts []workflow.AccountResult
		want     bool
	}{
		{"excluded only", []workflow.AccountResult{excluded}, false},
		{"one done", []workflow.AccountResult{excluded, done}, true},
	} {
		doc := Document{Run: run, Accounts: tt.accounts}
		if got := canary(doc, workflow.Report{Accounts: len(tt.accounts)}); got != tt.want {
			t.Errorf("%s: canary %v, want %v", tt.name, got, tt.want)
		}
	}
}
