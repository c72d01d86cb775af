// Package estimate prices and times the rotator's daily run for an organization's size, from
// what `make bench-scale` last measured on the local stand-in (measured.json, which it
// writes beside BENCHMARKS.md): the unit costs of an account scanned, a new key and a notice
// email at list prices, and how long its execution took per account at its Map concurrency.
// `keyrotator preflight` gives the operator these figures for their organization.
package estimate

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// The steady state: what an organization pays on an ordinary day, once the rollout is over
// and each rotated user gets a new key once per rotation period. sim's
// TestSteadyStateRatesOfTheOrdinaryDay runs the rotator for several periods and checks
// these rates against what it did.

// NewKeyEmails are the emails that carry a new key: the zip, then its password in an email of
// its own (design.md).
const NewKeyEmails = 2

// NoticesPerRotation are the notice emails a replaced key brings besides its new-key emails:
// the old key's deactivation and its deletion (docs/policy.md, rules 3 and 4).
const NoticesPerRotation = 2

// RotationPeriodDays is how often a rotated user gets a new key at the default limit: a key is
// replaced on its rotate-at day, and its replacement on its own, that many days later.
func RotationPeriodDays() int { return policy.Config{}.WithDefaults().Timeline().RotateAt }

// Units are a run's cost split by what causes it, in US dollars.
type Units struct {
	// PerNewKey: its secret's billed hours, its Secrets Manager calls, its NewKeyEmails emails
	// and its notification; PerNotice: one email and its notification; PerAccount: the rest
	// of a run, spread over the accounts scanned.
	PerNewKey  float64 `json:"perNewKey"`
	PerNotice  float64 `json:"perNotice"`
	PerAccount float64 `json:"perAccount"`
}

// Cost is the price of a run that scans accounts, creates newKeys and sends notices.
func (u Units) Cost(accounts int, newKeys, notices float64) float64 {
	return u.PerAccount*float64(accounts) + u.PerNewKey*newKeys + u.PerNotice*notices
}

// OrdinaryDay is the steady state's day: every account scanned, a new key for each rotated
// user once per rotation period, NoticesPerRotation notices a key.
func (u Units) OrdinaryDay(accounts, rotatedUsers int) float64 {
	keys := float64(rotatedUsers) / float64(RotationPeriodDays())
	return u.Cost(accounts, keys, NoticesPerRotation*keys)
}

// Measured is what the last `make bench-scale` measured.
type Measured struct {
	Date     string `json:"date"`
	Accounts int    `json:"accounts"`
	Units    Units  `json:"unitCostsUSD"`
	// ExecutionSeconds is its execution's wall time on the stand-in, with AccountConcurrency
	// accounts processed at once.
	ExecutionSeconds   float64 `json:"executionSeconds"`
	AccountConcurrency int     `json:"accountConcurrency"`
}

//go:embed measured.json
var measured []byte

// Last is the figures of the last `make bench-scale`.
func Last() (Measured, error) {
	var m Measured
	if err := json.Unmarshal(measured, &m); err != nil {
		return m, fmt.Errorf("estimate: measured.json: %w", err)
	}
	if m.Accounts < 1 || m.AccountConcurrency < 1 || m.ExecutionSeconds <= 0 {
		return m, fmt.Errorf("estimate: measured.json holds no run: %+v", m)
	}
	return m, nil
}

// Duration is how long a daily run over accounts takes at most, concurrency accounts at a
// time: the measured run's time per account, as its concurrency spread it, times the
// accounts, spread by this concurrency. It is an upper bound: on the stand-in every call of
// every account waits on one process on the benchmark's machine, where on AWS each account's
// calls go to its own endpoints under its own limits.
func (m Measured) Duration(accounts, concurrency int) time.Duration {
	perAccount := m.ExecutionSeconds * float64(m.AccountConcurrency) / float64(m.Accounts)
	return time.Duration(perAccount * float64(accounts) / float64(max(concurrency, 1)) * float64(time.Second)).Round(time.Second)
}
