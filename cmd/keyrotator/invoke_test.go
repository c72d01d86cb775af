package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

func TestInvokeFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "Usage: keyrotator invoke FUNCTION"},
		{"help after the function", []string{"list-accounts", "-h"}, 0, "Usage: keyrotator invoke FUNCTION"},
		{"no function", []string{"--endpoint", "http://127.0.0.1:1"}, 2, "the first argument is the FUNCTION"},
		{"no endpoint", []string{"list-accounts", "--event", "{}"}, 2, "--endpoint is required"},
		{"no event", []string{"list-accounts", "--endpoint", "http://127.0.0.1:1"}, 2, "exactly one of --event and --event-file"},
		{"two events", []string{"list-accounts", "--endpoint", "http://127.0.0.1:1", "--event", "{}", "--event-file", "-"}, 2, "exactly one of"},
		{"event not JSON", []string{"list-accounts", "--endpoint", "http://127.0.0.1:1", "--event", "{"}, 2, "the event is not JSON"},
		{"no stand-in there", []string{"list-accounts", "--endpoint", "http://127.0.0.1:1", "--event", "{}"}, 1, "is \"keyrotator sandbox\" running there?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"invoke"}, tt.args...), strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", code, stdout.String(), stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}

// TestInvokeEndToEnd (stand-in and the real bootstrap): ListAccounts answers with the run's
// account list; an invalid event comes back as the function's InvalidInput with exit 1; an
// unknown function is named.
func TestInvokeEndToEnd(t *testing.T) {
	sb := sandboxtest.NewFile(t, "../../sandbox/e2e/testdata/no-member-role.json")
	var stdout, stderr bytes.Buffer
	code := dispatch([]string{"invoke", "list-accounts", "--endpoint", sb.URL, "--event-file", "-"},
		strings.NewReader(`{"input":{"dryRun":true},"runId":"invoke-test","startTime":"2026-11-25T13:00:00Z"}`), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr.String())
	}
	var listing struct {
		AccountCount int    `json:"accountCount"`
		Key          string `json:"key"`
		Run          struct {
			DryRun bool `json:"dryRun"`
		} `json:"run"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &listing); err != nil || listing.AccountCount != 3 || !listing.Run.DryRun ||
		listing.Key != "runs/invoke-test/accounts.json" {
		t.Errorf("response %s (%v): want 3 accounts in a dry run", stdout.String(), err)
	}
	if !strings.Contains(stderr.String(), `"message":"listed accounts"`) {
		t.Errorf("the function's log lines are not on stderr:\n%s", stderr.String())
	}

	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"list-accounts", "--event", `{"input":{"acounts":[]},"runId":"x"}`}, "InvalidInput"},
		{[]string{"rotate-everything", "--event", `{}`}, "the functions are list-accounts, scan-and-rotate, notify-user, cleanup-report"},
	} {
		stdout.Reset()
		stderr.Reset()
		args := append(append([]string{"invoke"}, tt.args...), "--endpoint", sb.URL, "--bin", "../../build/local")
		if code := dispatch(args, nil, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), tt.wantErr) {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant exit 1 and %q", tt.args, code, stderr.String(), tt.wantErr)
		}
	}
}
