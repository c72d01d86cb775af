// Package sim is the rotator's deterministic fault-injection simulation: it drives the real
// ScanAndRotate (rotate.Rotator) and NotifyUser (notify.Deliverer) code, day after day,
// against an in-memory AWS (sim/awsmodel) while a seeded random schedule injects throttling,
// 5xx, lost responses, crashes, Step Functions retries of Lambdas that succeeded, overlapping
// executions, missed days, SES outages and bounces, and owners acting on their own keys and
// tags. Before every write the rotator makes, and after every day, it checks the safety
// invariants of docs/policy.md; a violation names the seed, the day, the call and the last
// calls before it, and the same seed replays it exactly.
package sim

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// Config is one simulated organization and its schedule of faults.
type Config struct {
	Seed int64
	// Days simulated (default 120); Accounts and Users per account (default 4 × 60: an
	// organization of 240 IAM users).
	Days, Accounts, Users int
	// FaultRate is the chance that a call of the rotator meets a fault (default 0.03).
	FaultRate float64
}

func (c Config) withDefaults() Config {
	if c.Days == 0 {
		c.Days = 120
	}
	if c.Accounts == 0 {
		c.Accounts = 4
	}
	if c.Users == 0 {
		c.Users = 60
	}
	if c.FaultRate == 0 {
		c.FaultRate = 0.03
	}
	return c
}

// Violation is one broken invariant, with what it takes to replay it.
type Violation struct {
	Seed      int64
	Day       int
	Invariant string
	Detail    string
	Recent    []string // the last calls before it
}

func (v Violation) String() string {
	return fmt.Sprintf("seed %d, day %d: %s: %s\nreplay: go run ./cmd/faults -seeds 1 -seed %d\nlast calls:\n  %s",
		v.Seed, v.Day, v.Invariant, v.Detail, v.Seed, strings.Join(v.Recent, "\n  "))
}

// Result is what one seed's simulation saw.
type Result struct {
	Days       int
	Faults     map[string]int // injected, by kind
	Violations []Violation
}

const (
	domain       = "example.com"
	reportBucket = "reports"
	// configurationSet is the SES configuration set NotifyUser sends through (the stack's).
	configurationSet = "iam-access-key-rotator-configset"
)

// owner is what the simulation knows of one IAM user's owner.
type owner struct {
	account, user string
	held          map[string]bool // keys the owner holds: their own, or delivered to them
	// app is the secret a machine user's keys are delivered to (its KeyDelivery tag), whose
	// application uses the key it reads there; "" for the other users.
	app string
	// lapsed is a key the rotator wrote to app and deactivated or deleted while the secret
	// refused new keys (rule 6, allowed): the application lost it then, not since.
	lapsed string
}

type sim struct {
	cfg    Config
	rng    *rand.Rand
	w      *awsmodel.World
	now    time.Time
	day    int
	policy policy.Config
	logs   bytes.Buffer
	log    *slog.Logger
	owners map[string]*owner // by account/user
	res    Result

	// What the simulation tracks of the rotator's keys and notices.
	rotatorKeys   map[string]string          // new key → the key it replaces
	warnedOn      map[string]int             // key → first day a warning giving its date was delivered
	warnDue       map[string]string          // key → the date its first attempted warning gave
	deactivatedOn map[string]int             // key → day it went inactive (anyone)
	got           map[string]map[string]bool // new key → which halves of its delivery ("zip", "password") reached the owner
	trace         map[string][]string        // key → what happened to it, for the violation's detail
	reported      map[string]bool            // invariant and subject already reported
	marks         map[string]time.Time       // account/user → when the rotator last marked a key creation
	reactivatedOn map[string]int             // key → last day its owner made it Active again
	keyOwner      map[string]*owner          // key the rotator created → its user's owner
	secrets       []string                   // every secret access key and zip password, for the leak check
	secretOf      map[string]string          // access key → its secret access key, as IAM returned it
	emitted       bytes.Buffer               // every payload and error the Lambdas returned

	faults      bool // faults are injected (off for the checking re-runs)
	inRotator   bool // the calls come from the rotator's Lambdas
	sesOutage   bool
	overlapping bool     // an execution runs inside another's call
	writes      []string // rotator writes (IAM, Secrets Manager, SendEmail) since the last reset
	lastSubmit  int      // index of the first SES message not yet read
}

// Run simulates one seed.
func Run(cfg Config) Result {
	cfg = cfg.withDefaults()
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x73696d)), owners: map[string]*owner{},
		rotatorKeys: map[string]string{}, warnedOn: map[string]int{}, warnDue: map[string]string{}, deactivatedOn: map[string]int{},
		got: map[string]map[string]bool{}, trace: map[string][]string{}, reported: map[string]bool{}, marks: map[string]time.Time{}, reactivatedOn: map[string]int{}, keyOwner: map[string]*owner{}, secretOf: map[string]string{}, res: Result{Faults: map[string]int{}}}
	s.now = time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	s.w = awsmodel.New(func() time.Time { return s.now }, cfg.Seed)
	s.w.VerifySES(domain)
	s.w.CreateBucket(reportBucket)
	s.w.Inject = s.inject
	s.w.Observe = s.observe
	s.log = slog.New(slog.NewJSONHandler(&s.logs, nil))
	s.policy = policy.Config{AllowedEmailDomains: []string{domain}}.WithDefaults()
	s.setup()
	for s.day = 0; s.day < cfg.Days; s.day++ {
		s.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, s.day)
		s.morning()
		s.now = s.now.Add(13 * time.Hour)
		s.daily()
		s.res.Days++
	}
	s.checkLeaks()
	return s.res
}

func (s *sim) sortedOwners() []*owner {
	var keys []string
	for k := range s.owners {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*owner, len(keys))
	for i, k := range keys {
		out[i] = s.owners[k]
	}
	return out
}

// note adds an event to a key's trace.
func (s *sim) note(keyID, format string, args ...any) {
	s.trace[keyID] = append(s.trace[keyID], fmt.Sprintf("day %d %s ", s.day, s.now.Format("15:04:05"))+fmt.Sprintf(format, args...))
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
