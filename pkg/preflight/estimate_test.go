package preflight

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/org"
)

// TestDailyRunPricesAndTimesTheSelectedAccounts: the estimate counts the accounts a run
// processes (not the excluded), prices them at the measured unit costs, and fails when a run
// would not end before the next day's.
func TestDailyRunPricesAndTimesTheSelectedAccounts(t *testing.T) {
	m := estimate.Measured{Date: "2026-12-07", Accounts: 1000, ExecutionSeconds: 500, AccountConcurrency: 10,
		Units: estimate.Units{PerAccount: 0.0001, PerNewKey: 0.001, PerNotice: 0.0002}}
	selected := make([]string, 2000)
	for i := range selected {
		selected[i] = fmt.Sprintf("%012d", i+1)
	}
	excluded := []string{"999999999999"}
	p := org.Preview{Active: append(selected, excluded...), Selected: selected, Excluded: map[string][]string{"EXCLUDE_ACCOUNTS": excluded}}
	ordinary := m.Units.OrdinaryDay(2000, 8000) // 0.2 for the accounts, 100 keys a day at 0.001, 200 notices at 0.0002
	if want := 0.2 + 0.1 + 0.04; ordinary < want-1e-9 || ordinary > want+1e-9 {
		t.Fatalf("ordinary day %v, want %v", ordinary, want)
	}
	for _, tt := range []struct {
		name               string
		users, concurrency int
		want               Verdict
		says               []string
	}{
		// 5 s per account at concurrency 10 (500 s × 10 / 1000): 2000 accounts take 1000 s.
		{"as measured", 8000, 10, Pass, []string{"2000 accounts and 8000 users: an ordinary day $0.3400, a first run that finds every key due $8.2000", "at most 16m40s a run with mapConcurrency 10", "2026-12-07 over 1000 accounts"}},
		{"users not given", 0, 10, Pass, []string{"users not given (--users): $0.2000 a day for the accounts alone, besides $0.001000 a new key and $0.000200 a notice"}},
		{"one account at a time", 8000, 1, Pass, []string{"at most 2h46m40s"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := selection(p, nil).DailyRun(m, tt.users, tt.concurrency)(context.Background())
			for _, s := range tt.says {
				if r.Verdict != tt.want || !strings.Contains(r.Detail, s) {
					t.Errorf("%s: %s, want %s saying %q", r.Verdict, r.Detail, tt.want, s)
				}
			}
		})
	}
	slow := m
	slow.ExecutionSeconds = 500 * 100 // 500 s an account alone: 2000 accounts take 11.6 days one at a time
	if r := selection(p, nil).DailyRun(slow, 8000, 1)(context.Background()); r.Verdict != Fail || !strings.Contains(r.Fix, "raise mapConcurrency") {
		t.Errorf("a run of days: %s: %s (fix %q), want a fail that says to raise mapConcurrency", r.Verdict, r.Detail, r.Fix)
	}
	if r := selection(org.Preview{}, errors.New("AccessDenied")).DailyRun(m, 8000, 10)(context.Background()); r.Verdict != CannotTell {
		t.Errorf("unreadable organization: %s: %s, want cannot-tell", r.Verdict, r.Detail)
	}
}
