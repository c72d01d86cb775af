package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

func TestRunFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "Usage: keyrotator run --endpoint URL --out DIR"},
		{"no endpoint", []string{"--out", "x"}, 2, "--endpoint is required"},
		{"no out", []string{"--endpoint", "http://127.0.0.1:1"}, 2, "--out is required"},
		{"input not JSON", []string{"--endpoint", "http://127.0.0.1:1", "--out", "x", "--input", "{"}, 2, "--input is not JSON"},
		{"negative days", []string{"--endpoint", "http://127.0.0.1:1", "--out", "x", "--limit-days", "-1"}, 2, "must not be negative"},
		{"stray argument", []string{"--endpoint", "http://127.0.0.1:1", "--out", "x", "now"}, 2, `unexpected argument "now"`},
		{"no stand-in there", []string{"--endpoint", "http://127.0.0.1:1", "--out", "x"}, 1, "is \"keyrotator sandbox\" running there?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"run"}, tt.args...), nil, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestRunCommandEndToEnd (end to end: stand-in, Node interpreter, the real Lambdas) runs the
// command as docs/local.md shows, on a small organization: a daily run that writes the output
// layout and a summary, then a bad input that fails with InvalidInput and exit status 1.
func TestRunCommandEndToEnd(t *testing.T) {
	sb := sandboxtest.NewFile(t, "../../sandbox/e2e/testdata/no-member-role.json")
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"run", "--endpoint", sb.URL, "--out", out, "--fast-retries"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"accounts 1/3 done", "accounts 3/3 done"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	prod, _ := sb.AccountID("prod")
	for _, want := range []string{"SUCCEEDED", prod + "  prod  done", "orphan  failed", "total"} {
		if !strings.Contains(strings.Join(strings.Fields(stdout.String()), "  "), strings.Join(strings.Fields(want), "  ")) {
			t.Errorf("summary lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, name := range []string{"execution.json", "report.json", "report.csv", "logs/list-accounts.log",
		"logs/scan-and-rotate.log", "logs/notify-user.log", "logs/cleanup-report.log"} {
		if info, err := os.Stat(filepath.Join(out, name)); err != nil || info.Size() == 0 {
			t.Errorf("%s: %v (empty or missing)", name, err)
		}
	}
	mails, _ := filepath.Glob(filepath.Join(out, "mail", "*.eml"))
	sent, err := sb.SentEmails(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) == 0 || len(mails) != len(sent) {
		t.Errorf("%d .eml files, the stand-in sent %d emails", len(mails), len(sent))
	}
	// The execution's own events (each account is a child execution of the Distributed Map,
	// with its own history, as on the service), and how each child ended.
	var ex struct {
		Status   string            `json:"status"`
		Events   []json.RawMessage `json:"events"`
		Children []struct {
			Map    string `json:"map"`
			Status string `json:"status"`
		} `json:"children"`
		Stats struct {
			MostEvents int `json:"mostEvents"`
		} `json:"stats"`
	}
	data, _ := os.ReadFile(filepath.Join(out, "execution.json"))
	accounts := 0
	if err := json.Unmarshal(data, &ex); err == nil {
		for _, c := range ex.Children {
			if c.Map == "ProcessAccounts" && c.Status == "SUCCEEDED" {
				accounts++
			}
		}
	}
	if err := json.Unmarshal(data, &ex); err != nil || ex.Status != "SUCCEEDED" || len(ex.Events) < 6 || accounts != 3 || ex.Stats.MostEvents == 0 {
		t.Errorf("execution.json: %v, status %q, %d events, %d accounts' executions succeeded (want 3), stats %+v", err, ex.Status, len(ex.Events), accounts, ex.Stats)
	}

	stdout.Reset()
	stderr.Reset()
	code = dispatch([]string{"run", "--endpoint", sb.URL, "--out", t.TempDir(), "--bin", "../../build/local",
		"--input", `{"accounts":["12345"]}`}, nil, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "InvalidInput") || !strings.Contains(stdout.String(), "FAILED") {
		t.Errorf("bad input: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and InvalidInput", code, stdout.String(), stderr.String())
	}
}
