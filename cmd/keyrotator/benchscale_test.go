package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestBenchScaleFlags: the help describes the benchmark and its sizes; bad sizes are usage
// errors. (sandbox/bench's TestBenchScaleSmall runs the benchmark itself.)
func TestBenchScaleFlags(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"-h"}, 0, "Usage: keyrotator bench-scale [--accounts N]"},
		{"help names the sizes", []string{"-h"}, 0, "-quiet-users int"},
		{"negative size", []string{"--accounts", "-1"}, 2, "must not be negative"},
		{"no concurrency", []string{"--account-concurrency", "0"}, 2, "must be at least 1"},
		{"stray argument", []string{"now"}, 2, `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(append([]string{"bench-scale"}, tt.args...), nil, &stdout, &stderr)
			if code != tt.wantCode || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, stderr.String(), tt.wantCode, tt.wantErr)
			}
		})
	}
}
