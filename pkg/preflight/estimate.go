package preflight

import (
	"context"
	"fmt"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/estimate"
)

// DailyRun estimates a daily run over the accounts the selection processes, at the unit
// costs and the time per account of the last `make bench-scale` (m): the cost of an ordinary
// day and of a first run that finds every user's key due, and how long the run takes at
// most with concurrency accounts at once. users are the IAM users with keys (0: not given,
// the cost of their keys left out). It fails when the run would not end within a day, before
// the next day's run starts.
func (s *Selection) DailyRun(m estimate.Measured, users, concurrency int) Check {
	return func(ctx context.Context) Result {
		const name = "daily run: cost and duration"
		p, err := s.get(ctx)
		if err != nil {
			return cannotTell(name, err, "run preflight with --management-profile (organizations:List*)")
		}
		accounts := len(p.Selected)
		took := m.Duration(accounts, concurrency)
		source := fmt.Sprintf("at the unit costs and the time per account that make bench-scale measured on %s over %d accounts (BENCHMARKS.md); the time is the stand-in's, an upper bound",
			m.Date, m.Accounts)
		cost := fmt.Sprintf("%d accounts and %d users: an ordinary day $%.4f, a first run that finds every key due $%.4f",
			accounts, users, m.Units.OrdinaryDay(accounts, users), m.Units.Cost(accounts, float64(users), 0))
		if users == 0 {
			cost = fmt.Sprintf("%d accounts, users not given (--users): $%.4f a day for the accounts alone, besides $%.6f a new key and $%.6f a notice",
				accounts, m.Units.Cost(accounts, 0, 0), m.Units.PerNewKey, m.Units.PerNotice)
		}
		detail := fmt.Sprintf("%s; at most %s a run with mapConcurrency %d (%s)", cost, took, concurrency, source)
		if took >= 24*time.Hour {
			return fail(name, detail, fmt.Sprintf("raise mapConcurrency in cdk.json (now %d; the Map allows up to 10000), or exclude accounts, so that a run ends before the next day's", concurrency))
		}
		return pass(name, detail)
	}
}
