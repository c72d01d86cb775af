package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// syncBuffer is a bytes.Buffer safe to read while runSandbox writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSandboxCommandServesTheDemoUntilSIGTERM runs the command on the demo scenario as an
// operator would: it must print the ready line and the account map, serve the settings,
// keep every secret off stdout and stderr, and stop cleanly on SIGTERM.
func TestSandboxCommandServesTheDemoUntilSIGTERM(t *testing.T) {
	outR, outW := io.Pipe()
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runSandbox([]string{"--scenario", "../../sandbox/scenarios/demo.json"}, nil, outW, stderr)
		outW.Close()
	}()

	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var stdout []string
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed early; exit %d; stderr:\n%s", <-done, stderr.String())
			}
			stdout = append(stdout, l)
			return l
		case <-time.After(60 * time.Second):
			t.Fatalf("no output within 60 s; stderr:\n%s", stderr.String())
		}
		return ""
	}

	ready := next()
	url, ok := strings.CutPrefix(ready, "ready ")
	if !ok || !regexp.MustCompile(`^http://127\.0\.0\.1:\d+$`).MatchString(url) {
		t.Fatalf("first line %q, want ready http://127.0.0.1:PORT", ready)
	}
	wantMap := []string{"management\t123456789012\tmanagement", "prod\t", "staging\t", "dev\t", "sandbox-legacy\t"}
	accounts := map[string]string{}
	for _, want := range wantMap {
		line := next()
		if !strings.HasPrefix(line, want) {
			t.Fatalf("account line %q, want it to start with %q", line, want)
		}
		f := strings.Split(line, "\t")
		accounts[f[0]] = f[1]
		if f[0] == "sandbox-legacy" && (len(f) != 3 || f[2] != "excluded") {
			t.Errorf("line %q: sandbox-legacy must be marked excluded", line)
		}
	}

	settings, err := sandbox.GetSettings(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range settings.Accounts {
		if accounts[a.Name] != a.ID {
			t.Errorf("settings say %s = %s, stdout said %s", a.Name, a.ID, accounts[a.Name])
		}
	}
	if len(settings.Rotator.ExcludeAccounts) != 1 || settings.Rotator.ExcludeAccounts[0] != accounts["sandbox-legacy"] {
		t.Errorf("the rotator's EXCLUDE_ACCOUNTS = %v, want [%s]", settings.Rotator.ExcludeAccounts, accounts["sandbox-legacy"])
	}

	// The secrets are in the keys file named on stderr, and nowhere in the output.
	m := regexp.MustCompile(`secrets of the seeded keys: (\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("stderr names no keys file:\n%s", stderr.String())
	}
	data, err := os.ReadFile(m[1])
	if err != nil {
		t.Fatal(err)
	}
	var keys []struct {
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatalf("keys file: %v", err)
	}
	if len(keys) != 39 {
		t.Errorf("keys file has %d keys, want the demo's 39", len(keys))
	}
	if !strings.Contains(stderr.String(), "seeding account prod") {
		t.Errorf("stderr shows no progress:\n%s", stderr.String())
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d after SIGTERM, want 0; stderr:\n%s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after SIGTERM")
	}
	for l := range lines {
		t.Errorf("unexpected stdout line %q", l)
	}
	for _, k := range keys {
		if k.SecretAccessKey == "" || strings.Contains(stderr.String(), k.SecretAccessKey) ||
			strings.Contains(strings.Join(stdout, "\n"), k.SecretAccessKey) {
			t.Fatalf("a secret is empty or printed")
		}
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("keys file %s still there after exit (%v)", m[1], err)
	}
	if _, err := sandbox.GetSettings(context.Background(), url); err == nil {
		t.Errorf("stand-in at %s still answers after exit", url)
	}
}

func TestSandboxCommandFlags(t *testing.T) {
	bad := t.TempDir() + "/bad.json"
	if err := os.WriteFile(bad, []byte(`{"memberRole": "r", "accounts": [{"name": "a", "users": [{"name": "u", "keys": [{"status": "On"}]}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"help", []string{"-h"}, 0, "Usage: keyrotator sandbox --scenario FILE"},
		{"no scenario", nil, 2, "--scenario is required"},
		{"bad port", []string{"--scenario", "x.json", "--port", "70000"}, 2, "--port 70000: must be 0..65535"},
		{"stray argument", []string{"--scenario", "x.json", "extra"}, 2, `unexpected argument "extra"`},
		{"missing file", []string{"--scenario", t.TempDir() + "/none.json"}, 1, "read scenario:"},
		{"bad scenario", []string{"--scenario", bad}, 1, "accounts[0].users[0].keys[0].status: must be Active or Inactive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runSandbox(tc.args, nil, &stdout, &stderr)
			if code != tc.wantCode || !strings.Contains(stderr.String(), tc.wantStderr) || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant exit %d, no stdout, stderr with %q",
					code, stdout.String(), stderr.String(), tc.wantCode, tc.wantStderr)
			}
		})
	}
}
