package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestPlanGolden holds the plan CLI's output for docs/design.md's example to golden files: the
// JSON shape is a contract that the Lambdas and the end-to-end tests build on.
func TestPlanGolden(t *testing.T) {
	for _, tt := range []struct{ args []string }{
		{[]string{"plan", "--in", "../../testdata/plan/example.json"}},
		{[]string{"plan", "--in", "../../testdata/plan/example.json", "--table"}},
	} {
		golden := "testdata/example.plan.json"
		if len(tt.args) == 4 {
			golden = "testdata/example.plan.txt"
		}
		t.Run(golden, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := dispatch(tt.args, nil, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, stderr.String())
			}
			if *update {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/keyrotator -update to create it)", err)
			}
			if stdout.String() != string(want) {
				t.Errorf("output differs from %s:\n%s", golden, stdout.String())
			}
		})
	}
}

func TestPlanOutputShape(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := dispatch([]string{"plan", "--in", "-"}, strings.NewReader(`{"now":"2026-11-25T13:00:00Z","users":[
		{"userName":"alice","tags":{"EmailID":"alice@example.com"},
		 "keys":[{"accessKeyId":"AKIAEXAMPLE1","status":"Active","createDate":"2026-08-27T13:00:00Z","lastUsedDate":"2026-11-24T08:00:00Z"}]}]}`),
		&stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got struct {
		Users []struct {
			UserName string `json:"userName"`
			Status   string `json:"status"`
			Actions  []struct {
				Action, Reason string
			} `json:"actions"`
			Notices []struct {
				Kind        string `json:"kind"`
				AccessKeyID string `json:"accessKeyId"`
				ActBy       string `json:"actBy"`
			} `json:"notices"`
		} `json:"users"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	u := got.Users[0]
	if u.UserName != "alice" || u.Status != "rotate" || len(u.Actions) != 1 || u.Actions[0].Action != "CreateKey" || u.Actions[0].Reason == "" {
		t.Errorf("unexpected plan: %s", stdout.String())
	}
	if len(u.Notices) != 1 || u.Notices[0].AccessKeyID != "AKIAEXAMPLE1" || u.Notices[0].ActBy != "2026-12-05" {
		t.Errorf("unexpected notices: %s", stdout.String())
	}
}

func TestPlanBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		input      string
		wantStderr string
	}{
		{"no --in", []string{"plan"}, "", "--in FILE"},
		{"missing file", []string{"plan", "--in", filepath.Join(dir, "nope.json")}, "", "no such file"},
		{"empty input", nil, "", "empty input"},
		{"not JSON", nil, "{users:", "not valid JSON"},
		{"unknown field", nil, `{"usres":[]}`, "usres: unknown field"},
		{"unknown config field", nil, `{"config":{"limit":3}}`, "limit: unknown field"},
		{"wrong type", nil, `{"config":{"limitDays":"90"}}`, "config.limitDays: expected int"},
		{"bad now", nil, `{"now":"yesterday"}`, `now: "yesterday" is not an RFC 3339 time`},
		{"bad createDate", nil, `{"users":[{"userName":"a","keys":[{"accessKeyId":"K","status":"Active","createDate":"2026-13-01"}]}]}`,
			"users[0].keys[0].createDate"},
		{"bad lastUsedDate", nil, `{"users":[{"userName":"a","keys":[{"accessKeyId":"K","status":"Active","createDate":"2026-01-01T00:00:00Z","lastUsedDate":"x"}]}]}`,
			"users[0].keys[0].lastUsedDate"},
		{"bad status", nil, `{"users":[{"userName":"a","keys":[{"accessKeyId":"K","status":"on","createDate":"2026-01-01T00:00:00Z"}]}]}`,
			`users[0].keys[0].status: must be "Active" or "Inactive"`},
		{"bad config", nil, `{"config":{"limitDays":10,"noticePeriod":10}}`, "limitDays: must be greater than noticePeriod"},
		{"trailing data", nil, `{} {}`, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args == nil {
				args = []string{"plan", "--in", "-"}
			}
			var stdout, stderr bytes.Buffer
			code := dispatch(args, strings.NewReader(tt.input), &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		args       []string
		wantCode   int
		wantStderr string
	}{
		{nil, 2, "Usage: keyrotator COMMAND"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"help"}, 0, "  sandbox"},
		{[]string{"--help"}, 0, "  plan"},
		{[]string{"plan", "-h"}, 0, "Usage: keyrotator plan"},
		{[]string{"plan", "-h"}, 0, "-table"},
		{[]string{"sandbox", "-h"}, 0, "Usage: keyrotator sandbox"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		if code := dispatch(tt.args, nil, &stdout, &stderr); code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantStderr) {
			t.Errorf("dispatch(%q) = %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.wantCode, tt.wantStderr)
		}
	}
}
