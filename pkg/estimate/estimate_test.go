package estimate

import (
	"testing"
	"time"
)

// TestLastMeasuredRunIsReadable: the embedded figures of the last bench-scale parse and hold
// a run.
func TestLastMeasuredRunIsReadable(t *testing.T) {
	m, err := Last()
	if err != nil {
		t.Fatal(err)
	}
	if m.Units.PerAccount <= 0 || m.Units.PerNewKey <= 0 || m.Units.PerNotice <= 0 {
		t.Errorf("unit costs %+v: each must be positive", m.Units)
	}
}

// TestDurationScalesWithAccountsAndConcurrency: the time per account the measured run's
// concurrency spread, times the accounts, spread by the deployment's concurrency.
func TestDurationScalesWithAccountsAndConcurrency(t *testing.T) {
	m := Measured{Accounts: 3000, ExecutionSeconds: 1000, AccountConcurrency: 10}
	for _, tt := range []struct {
		accounts, concurrency int
		want                  time.Duration
	}{
		{3000, 10, 1000 * time.Second},
		{30000, 10, 10000 * time.Second},
		{3000, 20, 500 * time.Second},
		{3000, 0, 10000 * time.Second}, // read as 1
	} {
		if got := m.Duration(tt.accounts, tt.concurrency); got != tt.want {
			t.Errorf("%d accounts at %d: %s, want %s", tt.accounts, tt.concurrency, got, tt.want)
		}
	}
}
