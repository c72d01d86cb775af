// Package sim is the rotator's deterministic fault-injection simulation: it drives the real
// ScanAndRotate (rotate.Rotator) and NotifyUser (notify.Handler) code, day after day,
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

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Config is one simulated organization, what its people and applications do, and its
// schedule of faults.
type Config struct {
	// Seed draws the workload (the organization and what its people do: World); FaultSeed
	// draws the faults (Faults), Seed when 0. Each replays alone: the same Seed with
	// another FaultSeed is the same organization under other faults.
	Seed, FaultSeed int64
	// Days simulated (default 120); Accounts and Users per account (default 4 × 60: an
	// organization of 240 IAM users).
	Days, Accounts, Users int
	// World and Faults are DefaultWorld() and DefaultFaults() when zero.
	World  World
	Faults Faults
}

// World is what the organization's owners, administrators and applications do, each a named
// chance. The campaign's values are DefaultWorld's.
type World struct {
	// Setup, per user: an email tag in the allowed domain, a malformed one, one outside it
	// (the rest have none); exempt; a RotationDays tag; a machine user whose keys go to its
	// application's secret. Per key: Inactive; used since its creation.
	Email, BadEmail, ForeignEmail float64
	Exempt, RotationDays          float64
	MachineUser                   float64
	InactiveKey, UsedKey          float64
	// Daily, per owner: the applications use a key the owner holds; the owner acts on their
	// own keys or tags (OwnerActs); their mailbox goes away (mail bounces) or comes back.
	KeyUse, OwnerActs float64
	// Per owner: a consumer slow to pick a new key up: the applications of such an owner use
	// a key the rotator made only from SlowConsumerDays after its creation (past the old
	// key's deactivation, so the old key is deactivated while in use and the new one waits
	// unused). Drawn from the seed and the user's name, not from the workload's stream.
	SlowConsumer             float64
	SlowConsumerDays         int
	MailboxGone, MailboxBack float64
	// TagForged: per user and day, someone allowed iam:TagUser (not the rotator) writes a
	// key-rotator:* tag on the user: notices claimed delivered, a deactivation day long past,
	// a pending mark over the user's keys, the owner's address given up; unsigned, or signed
	// under another key (forgeTag). Such a tag may postpone an action, never hasten one.
	TagForged float64
	// Per tag an owner or administrator sets or removes (email, Exempt, RotationDays,
	// KeyDelivery): its key spelled in another case (IAM compares user tag keys
	// case-insensitively, "case is preserved").
	TagKeyCase float64
	// Setup, per user: 45 to 50 tags in all, of its own (IAM allows 50: an owner who then
	// adds one is refused). Daily, per owner of a user with 48 or more: removing two of them.
	ManyTags, TidyTags float64
	// Per account: its credential report writes booleans as the IAM user guide documents
	// them (TRUE/FALSE) rather than as the reports seen (true/false).
	DocumentedReportCase float64
	// Per machine user: at setup, its secret's KMS key or resource policy denies the
	// rotator's member role PutSecretValue (persistent AccessDenied; half each); daily, the
	// application team fixes that (SecretWriteFixed), its IaC writes the secret again with
	// the value it holds (AppRewritesSecret: the key the secret holds, as a new version) or
	// with the key it was created with (AppRevertsSecret: the rotator's key overwritten), it
	// schedules the secret's deletion (AppDeletesSecret) or restores it (AppRestoresSecret).
	SecretWriteDenied, SecretWriteFixed float64
	// ParamStore: per machine user, its store is an SSM SecureString parameter
	// (KeyDelivery = ssm:/app/<user>) rather than a secret; the same opt-in, KMS denial (its
	// KMS key only), rewrites, reverts and deletions (at once: SSM keeps no recovery window)
	// apply to it. 0 draws nothing (the worlds of before).
	ParamStore float64
	// GitHubStore: per machine user whose store is not an SSM parameter, its store is the
	// GitHub Actions secrets of a repository or of its environment (KeyDelivery =
	// github:<owner>/<repo>[/environments/<name>], sim/github.go), opting in with the Actions
	// variable AWS_KEY_ROTATOR_USER (mostly; some name nobody or another user), of an
	// organization in allowedGitHubOwners (mostly: some are not), where the application (a
	// workflow) reads both secrets when it runs. The same rewrites, reverts (which the
	// rotator cannot see: GitHub tells no value) and deletions apply to it. Daily, per
	// organization, its administrators uninstall the rotator's GitHub App (GitHubAppRevoked),
	// or install it again (GitHubAppReinstalled). 0 draws nothing (the worlds of before).
	GitHubStore                            float64
	GitHubAppRevoked, GitHubAppReinstalled float64
	AppRewritesSecret, AppRevertsSecret    float64
	AppDeletesSecret, AppRestoresSecret    float64
	// Daily, for the rotator's SES account: an operator leaves BOUNCE out of the suppression
	// reasons that govern the rotator's mail (the configuration set overriding the account's
	// without it, or the set's override removed while the account's lacks it), so that a
	// bounce no longer reaches the suppression list; or puts it back.
	BouncesUnsuppressed, BouncesSuppressedAgain float64
	// Daily, per key the rotator deactivated in the last 3 days (its application broke): an
	// operator places a hold on its user until 0 to 2 × noticePeriod days ahead, the key made
	// active again (pkg/hold); per user on hold, the operator releases it early
	// (HoldReleased). 0 draws nothing (the worlds of before).
	Hold, HoldReleased float64
}

// DefaultWorld is the campaign's world.
func DefaultWorld() World {
	return World{Email: 0.80, BadEmail: 0.05, ForeignEmail: 0.05, Exempt: 0.05, RotationDays: 0.15, MachineUser: 0.15,
		InactiveKey: 0.2, UsedKey: 0.9, KeyUse: 0.9, OwnerActs: 0.01, MailboxGone: 0.002, MailboxBack: 0.05, TagForged: 0.003, SlowConsumer: 0.05, SlowConsumerDays: 21,
		TagKeyCase: 0.2, ManyTags: 0.05, TidyTags: 0.05, DocumentedReportCase: 0.5,
		SecretWriteDenied: 0.1, SecretWriteFixed: 0.02, ParamStore: 0.3, GitHubStore: 0.3, GitHubAppRevoked: 0.003, GitHubAppReinstalled: 0.2, AppRewritesSecret: 0.005, AppRevertsSecret: 0.005, AppDeletesSecret: 0.002, AppRestoresSecret: 0.1,
		BouncesUnsuppressed: 0.01, BouncesSuppressedAgain: 0.1, Hold: 0.1, HoldReleased: 0.05}
}

// RareWorld is DefaultWorld with its rare behaviours five times as common: owners acting on
// their keys and tags, mailboxes gone, forged rotator tags, users near IAM's tag limit,
// applications rewriting, reverting or deleting their store, bounces unsuppressed. Some fixes
// guard coincidences of two rare events (a bounce while bounces are unsuppressed, a forged tag
// on a user at the tag limit) that the default world shows a few times in 200 seeds: make
// test's campaign runs 20 seeds of each world, so that undoing any fix is seen there.
func RareWorld() World {
	w := DefaultWorld()
	for _, p := range []*float64{&w.OwnerActs, &w.MailboxGone, &w.TagForged, &w.ManyTags,
		&w.AppRewritesSecret, &w.AppRevertsSecret, &w.AppDeletesSecret, &w.BouncesUnsuppressed, &w.GitHubAppRevoked} {
		*p *= 5
	}
	return w
}

// RareFaults is DefaultFaults with its rare faults five times as common: a console re-run
// inside a call, an owner acting during the scan, a missed day.
func RareFaults() Faults {
	f := DefaultFaults()
	for _, p := range []*float64{&f.ConsoleRerun, &f.OwnerActsDuringScan} {
		*p *= 5
	}
	f.MissedDay *= 2
	return f
}

// Faults is the schedule of faults, each a named chance.
type Faults struct {
	// Call: that a call of the rotator meets a fault (throttling, 5xx, a crash; for writes
	// also a lost response or a retried call).
	Call float64
	// Per day: no scheduled run (a missed day); the scheduled run overlapped by a console
	// re-run of one account; SES refusing every send.
	MissedDay, Overlap, SESOutage float64
	// Per call or invocation: a console re-run starting inside an IAM call; Step Functions
	// running ScanAndRotate or NotifyUser again after a success (its response lost); an owner
	// acting while the rotator lists another user's keys; an application team withdrawing its
	// secret's opt-in just as the rotator describes it (or its parameter's, as it lists its tags).
	ConsoleRerun, ScanRetried, NotifyRetried, OwnerActsDuringScan, OptInWithdrawn float64
	// Per conditional S3 write (the account's lease): S3 answers 409
	// ConditionalRequestConflict, another operation on the key racing it.
	S3Conflict float64
	// A pending mark that lingers on a key the rotator stored and delivered: per UntagUser
	// of the mark, IAM fails it past the SDK's retries (MarkUntagFails); per ListAccessKeys of a user carrying the mark, the read is throttled
	// past the retries (MarkedUserReadFails), so that a day's run confirms the delivery but
	// never reaches the user's own orphan sweep.
	MarkUntagFails, MarkedUserReadFails float64
}

// DefaultFaults is the campaign's schedule of faults.
func DefaultFaults() Faults {
	return Faults{Call: 0.03, MissedDay: 0.05, Overlap: 0.1, SESOutage: 0.03,
		ConsoleRerun: 0.0005, ScanRetried: 0.03, NotifyRetried: 0.02, OwnerActsDuringScan: 0.002, OptInWithdrawn: 0.03,
		S3Conflict: 0.1, MarkUntagFails: 0.2, MarkedUserReadFails: 0.3}
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
	if c.FaultSeed == 0 {
		c.FaultSeed = c.Seed
	}
	if c.World == (World{}) {
		c.World = DefaultWorld()
	}
	if c.Faults == (Faults{}) {
		c.Faults = DefaultFaults()
	}
	return c
}

// Resolved is the configuration with its defaults, as printed with a campaign's results.
func (c Config) Resolved() string {
	c = c.withDefaults()
	return fmt.Sprintf("%d days, %d accounts x %d users\nworld: %+v\nfaults: %+v", c.Days, c.Accounts, c.Users, c.World, c.Faults)
}

// Violation is one broken invariant, with what it takes to replay it.
type Violation struct {
	Seed      int64
	FaultSeed int64
	Day       int
	Invariant string
	Detail    string
	Recent    []string // the last calls before it
}

func (v Violation) String() string {
	replay := fmt.Sprintf("-seeds 1 -seed %d", v.Seed)
	if v.FaultSeed != v.Seed {
		replay += fmt.Sprintf(" -fault-seed %d", v.FaultSeed)
	}
	return fmt.Sprintf("seed %d, day %d: %s: %s\nreplay: go run ./cmd/faults %s\nlast calls:\n  %s",
		v.Seed, v.Day, v.Invariant, v.Detail, replay, strings.Join(v.Recent, "\n  "))
}

// Result is what one seed's simulation saw.
type Result struct {
	Days       int
	Faults     map[string]int // injected, by kind
	World      map[string]int // what the world did, by kind (World's behaviours)
	Violations []Violation
}

const (
	domain       = "example.com"
	reportBucket = "reports"
	// configurationSet is the SES configuration set NotifyUser sends through (the stack's).
	configurationSet = statemachine.ConfigurationSetName
)

// owner is what the simulation knows of one IAM user's owner.
type owner struct {
	account, user string
	held          map[string]bool // keys the owner holds: their own, or delivered to them
	// app is the secret a machine user's keys are delivered to (its KeyDelivery tag), whose
	// application uses the key it reads there, as handoff.Pending.DeliverTo names it: a
	// secret's name, or ssm:<name> for an SSM parameter; "" for the other users.
	app string
	// actedOn is the last day the owner changed their keys or tags (-1: never).
	actedOn int
	// shortenedOn is the last day the owner shortened their own limit (a RotationDays tag
	// giving fewer days than before; -1: never).
	shortenedOn int
	// noticesForgedOn is the last day someone else wrote the user's notices tag (forgeTag;
	// -1: never).
	noticesForgedOn int
	// iac is the value the application's IaC wrote into app when it made it: what it writes
	// back when it reverts the secret.
	iac string
}

type sim struct {
	cfg  Config
	rng  *rand.Rand // the workload: World's draws
	frng *rand.Rand // the faults: Faults' draws
	w    *awsmodel.World
	now  time.Time
	day  int
	// settings are the Lambdas' (simSettings); policy is settings.Policy.
	settings config.Settings
	policy   policy.Config
	logs     bytes.Buffer
	log      *slog.Logger
	owners   map[string]*owner // by account/user
	res      Result
	check    checkers // the invariants, by family
	// seal is the rotator's tag key (history.Seal), which only its Lambdas read.
	seal *history.Seal

	// What the simulation tracks of the rotator's keys and notices.
	rotatorKeys   map[string]string              // new key → the key it replaces
	warnedOn      map[string]int                 // key → first day a warning giving its date was delivered
	warnDue       map[string]string              // key → the date its first attempted warning gave
	deactivatedOn map[string]int                 // key → day it went inactive (anyone)
	got           map[string]map[string]bool     // new key → which halves of its delivery ("zip", "password") reached the owner
	trace         map[string][]string            // key → what happened to it, for the violation's detail
	reported      map[string]bool                // invariant and subject already reported
	marks         map[string]time.Time           // account/user → when the rotator last marked a key creation
	reactivatedOn map[string]int                 // key → last day its owner made it Active again
	keysRead      map[string][2]int              // account/user → the days of the rotator's last two listings of its keys (ListAccessKeys), the later last
	listedOn      map[string]int                 // account/user → the day of the rotator's last listing of its keys
	usersRead     map[string][2]int              // account/user → the days of the rotator's last two reads of the user that got past its keys to its tags (ListUserTags after that day's ListAccessKeys), the later last
	keyOwner      map[string]*owner              // key the rotator created → its user's owner
	secrets       []string                       // every secret access key and zip password, for the leak check
	secretOf      map[string]string              // access key → its secret access key, as IAM returned it
	forged        map[string]map[string]bool     // account/user → entries of a rotator tag someone else wrote, not the rotator's
	emitted       bytes.Buffer                   // every payload and error the Lambdas returned
	lastPlan      map[string]workflow.UserResult // account/user → the rotator's last result for the user
	writtenTo     map[string]bool                // new key → the rotator wrote it to its user's application secret
	// github is the rotator's GitHub App as its Lambdas hold it (gitHubApp); gitHubLast the
	// GitHub secrets of each GitHub store as last seen (gitHubWrites), by o.app.
	github     *appsecret.GitHub
	gitHubLast map[string][2]awsmodel.GitHubSecret

	faults     bool // faults are injected (off for the checking re-runs)
	inRotator  bool // the calls come from the rotator's Lambdas
	sesOutage  bool
	bouncesOff bool // SES does not suppress bounces of the rotator's mail (World.BouncesUnsuppressed)
	// bouncesOffLast is the last day bounces were not suppressed (long before day 0: never).
	bouncesOffLast int
	overlapping    bool     // an execution runs inside another's call
	writes         []string // rotator writes (IAM, Secrets Manager, SendEmail) since the last reset
	lastSubmit     int      // index of the first SES message not yet read
	// The operators' holds (World.Hold): by account/user, in the order placed; and the
	// morning's input for the day's execution.
	opHolds         map[string][]simHold
	pendingHolds    []workflow.HoldRequest
	pendingReleases []workflow.ReleaseRequest
}

// Run simulates one seed.
func Run(cfg Config) Result {
	cfg = cfg.withDefaults()
	s := &sim{cfg: cfg, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x73696d)), frng: rand.New(rand.NewPCG(uint64(cfg.FaultSeed), 0x666c74)), owners: map[string]*owner{},
		rotatorKeys: map[string]string{}, warnedOn: map[string]int{}, warnDue: map[string]string{}, deactivatedOn: map[string]int{},
		got: map[string]map[string]bool{}, trace: map[string][]string{}, reported: map[string]bool{}, marks: map[string]time.Time{}, reactivatedOn: map[string]int{}, keysRead: map[string][2]int{}, listedOn: map[string]int{}, usersRead: map[string][2]int{}, keyOwner: map[string]*owner{}, secretOf: map[string]string{}, forged: map[string]map[string]bool{}, writtenTo: map[string]bool{}, gitHubLast: map[string][2]awsmodel.GitHubSecret{}, bouncesOffLast: -100, opHolds: map[string][]simHold{}, lastPlan: map[string]workflow.UserResult{}, res: Result{Faults: map[string]int{}, World: map[string]int{}}}
	s.now = time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC)
	s.w = awsmodel.New(func() time.Time { return s.now }, cfg.Seed)
	s.w.VerifySES(domain)
	s.w.CreateBucket(reportBucket)
	s.w.Inject = s.inject
	s.w.Observe = s.observe
	s.log = slog.New(slog.NewJSONHandler(&s.logs, nil))
	s.check = newCheckers(s)
	appSecretARN := ""
	if cfg.World.GitHubStore > 0 {
		appSecretARN = s.gitHubSetUp()
	}
	s.settings = simSettings(appSecretARN)
	s.policy = s.settings.Policy
	seal, err := history.NewSeal(fmt.Appendf(nil, "the rotator's tag key of seed %032d", cfg.Seed))
	must(err)
	s.seal = seal
	s.setup()
	for s.day = 0; s.day < cfg.Days; s.day++ {
		s.now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, s.day)
		s.morning()
		s.now = s.now.Add(13 * time.Hour)
		s.daily()
		s.res.Days++
	}
	s.check.leaks.all()
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

// simSettings are the Lambdas' settings in the simulation: their environment, read as the
// Lambdas read it.
// gitHubAppSecretARN is the GitHub App's secret (config githubAppSecretArn), "" for none.
func simSettings(gitHubAppSecretARN string) config.Settings {
	env := map[string]string{config.AllowedEmailDomains: domain, config.SenderEmail: "rotator@" + domain, config.ReportBucket: reportBucket,
		config.SESConfigurationSet: configurationSet}
	if gitHubAppSecretARN != "" {
		env[config.GitHubAppSecretARN], env[config.AllowedGitHubOwners] = gitHubAppSecretARN, strings.Join(gitHubAllowed, ",")
	}
	s, err := config.Load(func(name string) string { return env[name] })
	must(err)
	return s
}

// clock is the simulation's time.
func (s *sim) clock() time.Time { return s.now }

// note adds an event to a key's trace.
func (s *sim) note(keyID, format string, args ...any) {
	s.trace[keyID] = append(s.trace[keyID], fmt.Sprintf("day %d %s ", s.day, s.now.Format("15:04:05"))+fmt.Sprintf(format, args...))
}

// happened counts one behaviour of the world, by kind.
func (s *sim) happened(kind string) { s.res.World[kind]++ }

// chance draws a workload event of probability p; fault draws a fault of probability p.
func (s *sim) chance(p float64) bool { return s.rng.Float64() < p }
func (s *sim) fault(p float64) bool  { return s.frng.Float64() < p }

func must(err error) {
	if err != nil {
		panic(err)
	}
}
