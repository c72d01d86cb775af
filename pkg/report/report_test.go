package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/metrics"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func TestCSV(t *testing.T) {
	doc := Document{Run: workflow.Run{RunID: "run-1", DryRun: true}, Accounts: []workflow.AccountResult{
		{Account: workflow.Account{AccountID: "111111111111", Name: "prod"}, Status: workflow.AccountDone, Counts: workflow.Counts{IAMCalls: 12}, Users: []workflow.UserResult{
			{UserName: "alice", Status: policy.StatusRotate, Actions: []workflow.ActionResult{
				{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: "AKIAOLD", Reason: "make room, \"quoted\""}},
				{Action: policy.Action{Action: policy.CreateKey, Reason: "due"}, NewAccessKeyID: "AKIANEW", Done: true}}},
			{UserName: "erin", Status: policy.StatusOK, Reason: "nothing due", EmailProblem: "no EmailID or Email tag"},
			{UserName: "frank", Status: policy.StatusOK, Reason: "nothing due", RotationDaysProblem: "tag RotationDays=365 is longer"}}},
		{Account: workflow.Account{AccountID: "222222222222", Name: "dev"}, Status: workflow.AccountFailed, Error: "assume role: AccessDenied", Counts: workflow.Counts{IAMCalls: 1}},
	}}
	rows, err := csv.NewReader(strings.NewReader(string(CSV(doc)))).ReadAll()
	if err != nil {
		t.Fatalf("report.csv does not parse: %v", err)
	}
	want := [][]string{
		{"run_id", "account_id", "account_name", "account_status", "iam_calls", "user", "user_status", "action", "access_key_id", "new_access_key_id", "done", "dry_run", "reason", "email_problem", "error", "rotation_days_problem"},
		{"run-1", "111111111111", "prod", "done", "12", "alice", "rotate", "DeleteKey", "AKIAOLD", "", "false", "true", `make room, "quoted"`, "", "", ""},
		{"run-1", "111111111111", "prod", "done", "12", "alice", "rotate", "CreateKey", "", "AKIANEW", "true", "true", "due", "", "", ""},
		{"run-1", "111111111111", "prod", "done", "12", "erin", "ok", "", "", "", "", "true", "nothing due", "no EmailID or Email tag", "", ""},
		{"run-1", "111111111111", "prod", "done", "12", "frank", "ok", "", "", "", "", "true", "nothing due", "", "", "tag RotationDays=365 is longer"},
		{"run-1", "222222222222", "dev", "failed", "1", "", "", "", "", "", "", "true", "", "", "assume role: AccessDenied", ""},
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
	r := &Reporter{Metrics: &buf}
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
