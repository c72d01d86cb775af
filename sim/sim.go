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
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/notify"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
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

// setup makes the organization: users with one or two keys of any age, most with an email,
// some exempt, some without a usable address, some machine users whose keys go to their
// application's secret (most of those secrets opt in, some do not).
func (s *sim) setup() {
	for a := range s.cfg.Accounts {
		acct := fmt.Sprintf("1000000000%02d", a)
		for u := range s.cfg.Users {
			name := fmt.Sprintf("user%03d", u)
			tags := map[string]string{}
			switch r := s.rng.Float64(); {
			case r < 0.80:
				tags["EmailID"] = name + "." + acct + "@" + domain
			case r < 0.85:
				tags["EmailID"] = "not an address"
			case r < 0.90:
				tags["EmailID"] = name + "@elsewhere.org"
			}
			if s.rng.Float64() < 0.05 {
				tags["Exempt"] = "true"
			}
			if s.rng.Float64() < 0.15 {
				tags[policy.RotationDaysTag] = rotationDays[s.rng.IntN(len(rotationDays))]
			}
			must(s.w.CreateUser(acct, name, tags))
			o := &owner{account: acct, user: name, held: map[string]bool{}}
			s.owners[acct+"/"+name] = o
			for range 1 + s.rng.IntN(2) {
				status := types.StatusTypeActive
				if s.rng.Float64() < 0.2 {
					status = types.StatusTypeInactive
				}
				created := s.now.AddDate(0, 0, -s.rng.IntN(200))
				id, secretKey, err := s.w.AddKey(acct, name, created, status)
				must(err)
				if s.rng.Float64() < 0.9 {
					must(s.w.UseKey(acct, id, created.Add(time.Duration(s.rng.Float64()*float64(s.now.Sub(created)))), "s3", "us-east-1"))
				}
				o.held[id] = true
				s.secrets = append(s.secrets, secretKey)
				s.secretOf[id] = secretKey
				if status == types.StatusTypeInactive {
					s.deactivatedOn[id] = -1
				}
			}
			if s.rng.Float64() < 0.15 {
				s.machineUser(o)
			}
		}
	}
}

// machineUser makes o a machine user: its KeyDelivery tag names the secret app/<user>, which
// holds one of its Active keys and opts in (mostly: some name nobody, or another user).
func (s *sim) machineUser(o *owner) {
	i := slices.IndexFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool { return k.Status == types.StatusTypeActive })
	if i < 0 {
		return
	}
	k := s.w.Keys(o.account, o.user)[i]
	optIn := map[string]string{appsecret.OptInTag: o.user}
	switch r := s.rng.Float64(); {
	case r < 0.1:
		optIn = nil
	case r < 0.2:
		optIn[appsecret.OptInTag] = "someone-else"
	}
	o.app = "app/" + o.user
	must(s.w.SetTag(o.account, o.user, appsecret.DeliveryTag, appsecret.Scheme+o.app))
	must(s.w.CreateAppSecret(o.account, o.app, appValue(k.AccessKeyID, s.secretOf[k.AccessKeyID]), optIn))
}

func appValue(keyID, secretKey string) string {
	b, _ := json.Marshal(appKey{AccessKeyID: keyID, SecretAccessKey: secretKey})
	return string(b)
}

// appKey is what an application reads from its secret.
type appKey struct {
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
}

// appReads is the key o's application reads from its secret, and the secret's tags.
func (s *sim) appReads(o *owner) (appKey, map[string]string) {
	sec, ok := s.w.SecretIn(o.account, o.app)
	if o.app == "" || !ok {
		return appKey{}, nil
	}
	var k appKey
	_ = json.Unmarshal([]byte(sec.Value), &k)
	return k, sec.Tags
}

// deliverable reports whether a new key of o can be delivered: o's owner has a usable
// address and, for a machine user, its secret opts in (one that refuses is, for the rotator,
// like no address: rule 6).
func (s *sim) deliverable(o *owner) bool {
	if s.address(o) == "" {
		return false
	}
	_, tags := s.appReads(o)
	return o.app == "" || tags[appsecret.OptInTag] == o.user
}

// appServed reports whether the rotator must keep o's application running on the key it
// wrote to its secret: a machine user whose key can be delivered, not exempt, not given up.
// (An original key, not written by the rotator, follows the ordinary rules.)
func (s *sim) appServed(o *owner) bool {
	return o.app != "" && s.deliverable(o) && !s.givenUp(o) && !policy.Exempt(s.w.Tags(o.account, o.user), s.policy)
}

// morning: the applications use the keys their owners hold, and some owners act on their
// keys and tags, before the daily run.
func (s *sim) morning() {
	s.sesOutage = s.rng.Float64() < 0.03
	for _, o := range s.sortedOwners() {
		app, _ := s.appReads(o)
		for _, k := range s.w.Keys(o.account, o.user) {
			// A machine user's application uses the key its secret holds; other owners, theirs.
			uses := o.held[k.AccessKeyID] && o.app == "" || k.AccessKeyID == app.AccessKeyID
			if uses && k.Status == types.StatusTypeActive && s.rng.Float64() < 0.9 {
				must(s.w.UseKey(o.account, k.AccessKeyID, s.now.Add(time.Hour), "s3", "us-east-1"))
			}
		}
		if s.rng.Float64() < 0.01 {
			s.ownerActs(o)
		}
		if addr := s.address(o); addr != "" && s.rng.Float64() < 0.002 {
			s.w.SetBounce(addr, true) // the mailbox is gone for a while
		} else if addr != "" && s.rng.Float64() < 0.05 {
			s.w.SetBounce(addr, false) // the mailbox is back; SES still suppresses it
		}
	}
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

// rotationDays are the RotationDays tag values owners give: shorter limits, one below
// three notice periods, one longer than the organization's, and malformed ones.
var rotationDays = []string{"30", "45", "60", "7", "365", "abc", "-5"}

// ownerActs makes one owner change their own keys or tags, as owners do.
func (s *sim) ownerActs(o *owner) {
	keys := s.w.Keys(o.account, o.user)
	act := s.rng.IntN(8)
	if o.app != "" {
		act = 4 + s.rng.IntN(5) // a machine user's keys are its application's: its owner changes tags only
	}
	switch act {
	case 0: // deactivate a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			if k.Status == types.StatusTypeActive {
				must(s.w.SetKeyStatus(o.account, k.AccessKeyID, types.StatusTypeInactive))
				s.deactivatedOn[k.AccessKeyID] = s.day
				s.note(k.AccessKeyID, "owner deactivates")
			}
		}
	case 1: // reactivate a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			must(s.w.SetKeyStatus(o.account, k.AccessKeyID, types.StatusTypeActive))
			s.reactivatedOn[k.AccessKeyID] = s.day
			s.note(k.AccessKeyID, "owner activates")
		}
	case 2: // delete a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			must(s.w.DeleteKey(o.account, k.AccessKeyID))
			s.note(k.AccessKeyID, "owner deletes")
		}
	case 3: // create a key of their own
		if len(keys) < 2 {
			id, secretKey, err := s.w.AddKey(o.account, o.user, s.now, types.StatusTypeActive)
			must(err)
			o.held[id] = true
			s.secrets = append(s.secrets, secretKey)
			s.secretOf[id] = secretKey
		}
	case 4: // change the email tag
		must(s.w.SetTag(o.account, o.user, "EmailID", fmt.Sprintf("%s.%d@%s", o.user, s.rng.IntN(1000), domain)))
	case 6: // anyone allowed iam:TagUser sets the rotator's pending mark: unreadable, or a time
		// (where there is none: overwriting a live mark can hide an orphan, a key nobody
		// holds that rule 2 deletes once unused for U days; docs/policy.md says so)
		if _, marked := s.w.Tags(o.account, o.user)[history.PendingTag]; marked {
			return
		}
		mark := "garbage"
		if s.rng.IntN(2) == 0 {
			mark = s.now.Add(-time.Duration(s.rng.IntN(48)) * time.Hour).Format(time.RFC3339)
		}
		must(s.w.SetTag(o.account, o.user, history.PendingTag, mark))
	case 7: // shorten their own limit, change it, or drop it
		if s.rng.IntN(3) == 0 {
			must(s.w.RemoveTag(o.account, o.user, policy.RotationDaysTag))
		} else {
			must(s.w.SetTag(o.account, o.user, policy.RotationDaysTag, rotationDays[s.rng.IntN(len(rotationDays))]))
		}
	case 8: // the application team takes its secret's opt-in away, or gives it back
		if _, tags := s.appReads(o); tags[appsecret.OptInTag] == o.user {
			must(s.w.SetAppSecretTag(o.account, o.app, appsecret.OptInTag, ""))
		} else {
			must(s.w.SetAppSecretTag(o.account, o.app, appsecret.OptInTag, o.user))
		}
	case 5: // become exempt, or stop being exempt
		if policy.Exempt(s.w.Tags(o.account, o.user), s.policy) {
			must(s.w.RemoveTag(o.account, o.user, "Exempt"))
		} else {
			must(s.w.SetTag(o.account, o.user, "Exempt", "TRUE"))
		}
	}
}

// note adds an event to a key's trace.
func (s *sim) note(keyID, format string, args ...any) {
	s.trace[keyID] = append(s.trace[keyID], fmt.Sprintf("day %d %s ", s.day, s.now.Format("15:04:05"))+fmt.Sprintf(format, args...))
}

// address is the owner's usable address now, or "".
func (s *sim) address(o *owner) string {
	email, _ := policy.OwnerEmail(s.w.Tags(o.account, o.user), s.policy)
	return email
}

// daily is one day's runs: most days the scheduled execution (sometimes overlapped by a
// console re-run of one account), some days none; then, without faults, a re-run that
// finishes what failed, and a second that must write and send nothing.
func (s *sim) daily() {
	if s.rng.Float64() >= 0.05 {
		s.faults = true
		s.execution(fmt.Sprintf("run-%d", s.day), s.rng.Float64() < 0.1)
		s.faults = false
	}
	if s.rng.Float64() < 0.25 {
		s.now = s.now.Add(30 * time.Minute)
		s.execution(fmt.Sprintf("rerun-%d", s.day), false)
		s.now = s.now.Add(10 * time.Minute)
		s.writes = nil
		s.execution(fmt.Sprintf("check-%d", s.day), false)
		if len(s.writes) > 0 {
			s.violate("same-day re-run writes nothing", fmt.Sprintf("day-%d: a third run made writes or sends: %s", s.day, strings.Join(s.writes, "; ")))
		}
	}
	s.checkAppSecrets()
	s.checkKeysAccounted()
}

// execution runs one Step Functions execution over every account: ScanAndRotate, then
// NotifyUser for each notification, each retried as the ASL retries them. With overlap, a
// second execution scans one account between the first one's scan and its notifications.
func (s *sim) execution(runID string, overlap bool) {
	run := workflow.Run{RunID: runID, Now: s.now}
	for a := range s.cfg.Accounts {
		acct := workflow.Account{AccountID: fmt.Sprintf("1000000000%02d", a), Name: fmt.Sprintf("account-%d", a)}
		notes := s.scanAndRotate(run, acct)
		if overlap && a == 0 {
			other := workflow.Run{RunID: runID + "-console", Now: s.now}
			s.notifyAll(s.scanAndRotate(other, acct))
		}
		s.notifyAll(notes)
		s.now = s.now.Add(time.Second)
	}
}

// attempts is how often a Lambda is tried: a retryable error or a crash is retried, as the
// ASL's Retry does.
const attempts = 4

func (s *sim) scanAndRotate(run workflow.Run, acct workflow.Account) []workflow.Notification {
	iamClient := s.w.IAM(acct.AccountID)
	r := &rotate.Rotator{IAM: iamClient, Secrets: s.w.Secrets(), AppSecrets: s.w.SecretsIn(acct.AccountID), Scanner: &scan.Scanner{IAM: iamClient, PollInterval: time.Nanosecond, Reserve: rotate.TimeReserve},
		Bounces: rotate.SESBounces{SES: s.w.SES()}, Policy: s.policy, HandoffPrefix: "iam-access-key-rotator/handoff/",
		Leases: &lease.Leases{S3: s.w.S3(), Bucket: reportBucket, Clock: func() time.Time { return s.now }},
		Clock:  func() time.Time { return s.now }, Log: s.log}
	var notes []workflow.Notification
	for attempt := 1; attempt <= attempts; attempt++ {
		var res workflow.AccountResult
		var err error
		crashed := s.lambda(func() { res, notes, err = r.Process(context.Background(), run, acct) })
		s.emit(res, notes, err)
		if crashed || err != nil && workflow.IsRetryable(err) {
			notes = nil
			continue
		}
		// Its response lost, a Lambda that succeeded is run again by Step Functions.
		if s.faults && s.rng.Float64() < 0.03 {
			s.res.Faults["sfn-retry-after-success"]++
			continue
		}
		break
	}
	return notes
}

func (s *sim) notifyAll(notes []workflow.Notification) {
	for _, n := range notes {
		for _, notice := range n.Notices {
			s.writes = append(s.writes, fmt.Sprintf("notice %s %s to %s", notice.Kind, notice.AccessKeyID, n.UserName))
		}
		if n.NewKey != nil {
			s.writes = append(s.writes, fmt.Sprintf("new key %s to %s", n.NewKey.AccessKeyID, n.UserName))
		}
		d := &notify.Deliverer{Secrets: s.w.Secrets(), AppSecrets: func(account string) appsecret.API { return s.w.SecretsIn(account) }, Sender: notify.NewSender(s.w.SES(), "", nil), From: "rotator@" + domain,
			History: func(accountID string) history.TagAPI { return s.w.IAM(accountID) }, Now: func() time.Time { return s.now }, Log: s.log}
		for attempt := 1; attempt <= attempts; attempt++ {
			var out notify.Delivery
			var err error
			crashed := s.lambda(func() { out, err = d.Handle(context.Background(), n) })
			s.emit(out, nil, err)
			if err != nil && !s.faults {
				s.writes = append(s.writes, "NotifyUser failed: "+err.Error())
			}
			s.readMail()
			if !crashed && (err == nil || !workflow.IsRetryable(err)) {
				if err == nil && s.faults && s.rng.Float64() < 0.02 {
					s.res.Faults["sfn-retry-after-success"]++
					continue
				}
				break
			}
		}
	}
}

// lambda runs one invocation, reporting whether it crashed (a Crash panic from the model).
func (s *sim) lambda(f func()) (crashed bool) {
	outer := s.inRotator
	s.inRotator = true
	defer func() {
		s.inRotator = outer
		if p := recover(); p != nil {
			if _, ok := p.(awsmodel.Crash); !ok {
				panic(p)
			}
			crashed = true
		}
	}()
	f()
	return false
}

func (s *sim) emit(v any, notes []workflow.Notification, err error) {
	b, _ := json.Marshal(v)
	s.emitted.Write(b)
	b, _ = json.Marshal(notes)
	s.emitted.Write(b)
	if err != nil {
		s.emitted.WriteString(err.Error())
	}
	for _, n := range notes {
		for _, notice := range n.Notices {
			if notice.Kind == policy.DeactivationScheduled {
				if _, ok := s.warnDue[notice.AccessKeyID]; !ok {
					s.warnDue[notice.AccessKeyID] = notice.ActBy
				}
			}
		}
		if n.NewKey != nil {
			if _, ok := s.warnDue[n.NewKey.ReplacesAccessKeyID]; !ok {
				s.warnDue[n.NewKey.ReplacesAccessKeyID] = n.NewKey.DeactivateOn
			}
		}
	}
}

var (
	secretKeyID      = regexp.MustCompile(`handoff/\d+/[^/]+/(AKIA[A-Z0-9]{16})`)
	zipSubject       = regexp.MustCompile(`^New AWS access key (AKIA[A-Z0-9]+) `)
	passwordSubject  = regexp.MustCompile(`^Password for the new AWS access key (AKIA[A-Z0-9]+) `)
	secretKeySubject = regexp.MustCompile(`^New access key (AKIA[A-Z0-9]+) of IAM user \S+ in account .+ is in secret `)
	warnSubject      = regexp.MustCompile(`^AWS access key (AKIA[A-Z0-9]+) of IAM user \S+ in account .+ will be deactivated`)
	passwordLine     = regexp.MustCompile(`(?m)^\s*([A-Za-z0-9!#$%&*+\-=?@^_~]{20,})\s*$`)
)

// readMail reads the messages SES accepted since the last look: what reached the owner (not
// bounced) counts as received. A message is its key's owner's whatever notification sent it
// (an overlapping execution's NotifyUser may run inside another's).
func (s *sim) readMail() {
	msgs := s.w.Messages()
	for _, m := range msgs[s.lastSubmit:] {
		raw := string(m.Raw)
		subject := ""
		if parsed, err := mail.ReadMessage(bytes.NewReader(m.Raw)); err == nil {
			subject, _ = new(mime.WordDecoder).DecodeHeader(parsed.Header.Get("Subject"))
		}
		if p := passwordSubject.FindStringSubmatch(subject); p != nil {
			for _, line := range passwordLine.FindAllStringSubmatch(raw, -1) {
				s.secrets = append(s.secrets, line[1])
			}
		}
		if len(m.Bounced) > 0 {
			continue
		}
		if z := zipSubject.FindStringSubmatch(subject); z != nil && s.keyOwner[z[1]] != nil {
			s.received(s.keyOwner[z[1]], z[1], "zip")
		}
		if p := passwordSubject.FindStringSubmatch(subject); p != nil && s.keyOwner[p[1]] != nil {
			s.received(s.keyOwner[p[1]], p[1], "password")
		}
		if w := warnSubject.FindStringSubmatch(subject); w != nil {
			s.warned(w[1])
		}
		if k := secretKeySubject.FindStringSubmatch(subject); k != nil && s.rotatorKeys[k[1]] != "" {
			s.warned(s.rotatorKeys[k[1]]) // the notice of a key delivered to a secret gives the old key's date
		}
	}
	s.lastSubmit = len(msgs)
}

func (s *sim) received(o *owner, keyID, part string) {
	if s.got[keyID] == nil {
		s.got[keyID] = map[string]bool{}
	}
	s.got[keyID][part] = true
	if !s.got[keyID]["zip"] || !s.got[keyID]["password"] || o.held[keyID] {
		return
	}
	s.holds(o, keyID, "received by the owner")
	s.warned(s.rotatorKeys[keyID])
}

// holds records that o now holds the new key keyID (how says by which way), checking that no
// other new key for the same old key was delivered and is still active.
func (s *sim) holds(o *owner, keyID, how string) {
	old := s.rotatorKeys[keyID]
	for other, replaced := range s.rotatorKeys {
		if other != keyID && replaced == old && o.held[other] && s.active(o, other) {
			s.violate("at most one new key per old key", fmt.Sprintf("%s got new key %s for %s while %s, delivered for it earlier, is still active", o.user, keyID, old, other))
		}
	}
	o.held[keyID] = true
	s.note(keyID, "%s (replaces %s)", how, old)
}

// written checks a key the rotator wrote to a machine user's secret: the user's own key, with
// the secret access key IAM returned for it; the application holds it from now on.
func (s *sim) written(account string, in *secretsmanager.PutSecretValueInput) {
	var k appKey
	_ = json.Unmarshal([]byte(aws.ToString(in.SecretString)), &k)
	o := s.keyOwner[k.AccessKeyID]
	switch {
	case o == nil || o.account != account || o.app != aws.ToString(in.SecretId):
		s.violate("a key goes only to its user's secret", fmt.Sprintf("%s in %s: key %s is not its user's", aws.ToString(in.SecretId), account, k.AccessKeyID))
	case !s.deliverable(o):
		s.violate("a key goes only to a secret that opts in", fmt.Sprintf("%s: key %s of %s written to a secret without %s=%s", o.app, k.AccessKeyID, o.user, appsecret.OptInTag, o.user))
	case k.SecretAccessKey != s.secretOf[k.AccessKeyID]:
		s.violate("the application's secret holds its key's secret access key", fmt.Sprintf("%s: the value written for %s does not match the key IAM made", o.app, k.AccessKeyID))
	case !o.held[k.AccessKeyID]:
		s.holds(o, k.AccessKeyID, "written to "+o.app)
	}
}

func (s *sim) warned(keyID string) {
	s.note(keyID, "warning received")
	if _, ok := s.warnedOn[keyID]; !ok {
		s.warnedOn[keyID] = s.day
	}
}

func (s *sim) active(o *owner, keyID string) bool {
	return slices.ContainsFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool {
		return k.AccessKeyID == keyID && k.Status == types.StatusTypeActive
	})
}

// inject decides the fault of one call of the rotator, and checks, before a write takes
// effect, that it may be made.
func (s *sim) inject(c awsmodel.Call) awsmodel.Fault {
	s.now = s.now.Add(50 * time.Millisecond)
	if !s.inRotator {
		return awsmodel.None
	}
	if c.Writes() && c.Operation != "GenerateCredentialReport" && !(c.Service == "S3") {
		s.writes = append(s.writes, fmt.Sprintf("%s %s %s", c.Operation, c.Account, callSubject(c.Input)))
	}
	if c.Service == "IAM" && c.Writes() {
		s.checkWrite(c)
	}
	if c.Operation == "ListAccessKeys" && s.faults && s.rng.Float64() < 0.002 {
		s.ownerActsDuringScan(c)
	}
	if in, ok := c.Input.(*secretsmanager.DescribeSecretInput); ok && s.faults && s.rng.Float64() < 0.03 {
		// The application team withdraws its secret's opt-in while the rotator is about to
		// write a key to it.
		if o := s.owners[c.Account+"/"+strings.TrimPrefix(aws.ToString(in.SecretId), "app/")]; o != nil && o.app == aws.ToString(in.SecretId) {
			s.res.Faults["opt-in-withdrawn"]++
			must(s.w.SetAppSecretTag(o.account, o.app, appsecret.OptInTag, ""))
		}
	}
	if c.Service == "IAM" && s.faults && !s.overlapping && s.rng.Float64() < 0.0005 {
		// An operator's console re-run of this account starts while this run writes there.
		s.res.Faults["overlapping-execution"]++
		s.overlapping = true
		s.notifyAll(s.scanAndRotate(workflow.Run{RunID: fmt.Sprintf("console-%d", s.day), Now: s.now}, workflow.Account{AccountID: c.Account, Name: "overlap"}))
		s.overlapping = false
	}
	if !s.faults {
		return awsmodel.None
	}
	if c.Operation == "SendEmail" && s.sesOutage {
		s.res.Faults["ses-outage"]++
		return awsmodel.ServerError
	}
	if s.rng.Float64() >= s.cfg.FaultRate {
		return awsmodel.None
	}
	f := []awsmodel.Fault{awsmodel.Throttle, awsmodel.ServerError, awsmodel.CrashBefore}[s.rng.IntN(3)]
	if c.Writes() && s.rng.Float64() < 0.5 {
		f = []awsmodel.Fault{awsmodel.LostResponse, awsmodel.Retried}[s.rng.IntN(2)]
	}
	s.res.Faults[f.String()]++
	return f
}

// ownerActsDuringScan: while the rotator reads one user, the owner of another user of the
// account changes their keys (a long scan meets concurrent changes).
func (s *sim) ownerActsDuringScan(c awsmodel.Call) {
	reading := aws.ToString(c.Input.(*iam.ListAccessKeysInput).UserName)
	for _, o := range s.sortedOwners() {
		if o.account == c.Account && o.user != reading && s.rng.Float64() < 0.05 {
			s.res.Faults["owner-acts-during-scan"]++
			s.ownerActs(o)
			return
		}
	}
}

func (s *sim) observe(c awsmodel.Call, out any, err error) {
	if !s.inRotator {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = err.Error()
		if len(outcome) > 80 {
			outcome = outcome[:80]
		}
	}
	switch c.Input.(type) {
	case *iam.TagUserInput, *iam.UntagUserInput, *iam.CreateAccessKeyInput:
		user, _ := writeTarget(c.Input)
		s.note(c.Account+"/"+user, "%s -> %s", c.Operation, outcome)
	}
	if m := secretKeyID.FindStringSubmatch(secretName(c.Input)); m != nil {
		s.note(m[1], "%s -> %s", c.Operation, outcome)
	}
	if c.Operation == "CreateSecret" {
		// The secret's tags say which key the new key replaces (also when the response was
		// lost: the secret exists).
		s.learnReplacements()
	}
	if err != nil {
		return
	}
	switch in := c.Input.(type) {
	case *iam.TagUserInput:
		if slices.ContainsFunc(in.Tags, func(t types.Tag) bool { return aws.ToString(t.Key) == history.PendingTag }) {
			s.marks[c.Account+"/"+aws.ToString(in.UserName)] = s.now
		}
	case *iam.DeleteAccessKeyInput:
		s.note(aws.ToString(in.AccessKeyId), "rotator deletes")
	case *iam.UpdateAccessKeyInput:
		s.note(aws.ToString(in.AccessKeyId), "rotator deactivates")
	}
	switch o := out.(type) {
	case *iam.CreateAccessKeyOutput:
		s.note(aws.ToString(o.AccessKey.AccessKeyId), "rotator creates; user's calls: %s", strings.Join(s.trace[c.Account+"/"+aws.ToString(o.AccessKey.UserName)], "; "))
		s.keyOwner[aws.ToString(o.AccessKey.AccessKeyId)] = s.owners[c.Account+"/"+aws.ToString(o.AccessKey.UserName)]
		s.rotatorKeys[aws.ToString(o.AccessKey.AccessKeyId)] = ""
		s.secrets = append(s.secrets, aws.ToString(o.AccessKey.SecretAccessKey))
		s.secretOf[aws.ToString(o.AccessKey.AccessKeyId)] = aws.ToString(o.AccessKey.SecretAccessKey)
	case *secretsmanager.PutSecretValueOutput:
		s.written(c.Account, c.Input.(*secretsmanager.PutSecretValueInput))
	case *iam.UpdateAccessKeyOutput:
		s.deactivatedOn[aws.ToString(c.Input.(*iam.UpdateAccessKeyInput).AccessKeyId)] = s.day
	}

}

func (s *sim) learnReplacements() {
	for _, sec := range s.w.SecretsList() {
		if id := sec.Tags["key-rotator:access-key-id"]; id != "" && s.rotatorKeys[id] == "" {
			s.rotatorKeys[id] = sec.Tags["key-rotator:replaces"]
		}
	}
}

// callSubject names what a write acts on, for a violation's detail.
func callSubject(in any) string {
	user, keyID := writeTarget(in)
	switch in := in.(type) {
	case *iam.TagUserInput:
		var kv []string
		for _, t := range in.Tags {
			kv = append(kv, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
		}
		return user + " " + strings.Join(kv, ",")
	case *iam.UntagUserInput:
		return user + " " + strings.Join(in.TagKeys, ",")
	case *iam.CreateAccessKeyInput, *iam.UpdateAccessKeyInput, *iam.DeleteAccessKeyInput:
		return strings.TrimSpace(user + " " + keyID)
	}
	return secretName(in)
}

// writeTarget is the user (and key) an IAM write of the rotator acts on.
func writeTarget(in any) (user, keyID string) {
	switch in := in.(type) {
	case *iam.DeleteAccessKeyInput:
		return aws.ToString(in.UserName), aws.ToString(in.AccessKeyId)
	case *iam.UpdateAccessKeyInput:
		return aws.ToString(in.UserName), aws.ToString(in.AccessKeyId)
	case *iam.CreateAccessKeyInput:
		return aws.ToString(in.UserName), ""
	case *iam.TagUserInput:
		return aws.ToString(in.UserName), ""
	case *iam.UntagUserInput:
		return aws.ToString(in.UserName), ""
	}
	return "", ""
}

// secretName is the name or ARN a Secrets Manager call acts on.
func secretName(in any) string {
	switch in := in.(type) {
	case *secretsmanager.CreateSecretInput:
		return aws.ToString(in.Name)
	case *secretsmanager.DeleteSecretInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.TagResourceInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.GetSecretValueInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.RestoreSecretInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.PutSecretValueInput:
		return aws.ToString(in.SecretId)
	}
	return ""
}

// checkWrite checks one IAM write of the rotator against the invariants, before it takes
// effect.
func (s *sim) checkWrite(c awsmodel.Call) {
	user, keyID := writeTarget(c.Input)
	if in, ok := c.Input.(*iam.UpdateAccessKeyInput); ok && in.Status != types.StatusTypeInactive {
		s.violate("the rotator only deactivates", "UpdateAccessKey to "+string(in.Status))
	}
	o := s.owners[c.Account+"/"+user]
	if o == nil {
		return
	}
	tags := s.w.Tags(o.account, o.user)
	if policy.Exempt(tags, s.policy) {
		s.violate("exempt users get zero writes", fmt.Sprintf("%s %s of exempt user %s", c.Operation, keyID, user))
	}
	if keyID == "" {
		return
	}
	keys := s.w.Keys(o.account, o.user)
	i := slices.IndexFunc(keys, func(k awsmodel.Key) bool { return k.AccessKeyID == keyID })
	if i < 0 {
		return // a retried call on a key already gone
	}
	k := keys[i]
	if c.Operation == "DeleteAccessKey" {
		if day, ok := s.deactivatedOn[keyID]; ok && day == s.day && k.Status == types.StatusTypeInactive && s.reactivatedOn[keyID] == s.day {
			// Its owner reactivated and deactivated it again since the rotator last read it:
			// IAM does not say when a key was deactivated, so the rotator's record of an
			// earlier day stands (counted, allowed; docs/policy.md says so).
			s.res.Faults["owner-reactivated-and-deactivated-between-reads"]++
		} else if ok && day == s.day && k.Status == types.StatusTypeInactive {
			s.violate("no key is deleted on the day it was deactivated", fmt.Sprintf("%s's key %s, deactivated today; its story:\n    %s",
				user, keyID, strings.Join(s.trace[keyID], "\n    ")))
		}
		// A key the owner holds and may use; not an orphan (the rotator's, never delivered),
		// nor one the owner made, unused, within rotate.OrphanWindow of a creation of the
		// rotator whose outcome was unknown (IAM cannot tell them apart: counted, allowed).
		mark, marked := s.marks[c.Account+"/"+user]
		ambiguous := marked && k.LastUsed == nil && !k.Created.Before(mark.Add(-time.Minute)) && !k.Created.After(mark.Add(rotate.OrphanWindow))
		if ambiguous && o.held[keyID] {
			s.res.Faults["owner-key-taken-for-orphan"]++
		} else if k.Status == types.StatusTypeActive && !s.unused(k, tags) && o.held[keyID] {
			s.violate("no active key in use is deleted", fmt.Sprintf("%s's active key %s (created %s, last used %v)", user, keyID, k.Created.Format(time.DateOnly), k.LastUsed))
		}
		if s.unused(k, tags) {
			return // rule 2: a key unused for unused-at days goes, whoever holds it
		}
	}
	if app, _ := s.appReads(o); keyID == app.AccessKeyID && s.rotatorKeys[keyID] != "" && k.Status == types.StatusTypeActive && !s.appServed(o) {
		o.lapsed = keyID
	} else if keyID == app.AccessKeyID && s.rotatorKeys[keyID] != "" && k.Status == types.StatusTypeActive {
		s.violate("a machine user's application keeps an active key", fmt.Sprintf("%s %s of %s: the key its application reads from %s; its story:\n    %s",
			c.Operation, keyID, user, o.app, strings.Join(s.trace[keyID], "\n    ")))
	}
	if k.Status != types.StatusTypeActive || !s.deliverable(o) || s.givenUp(o) {
		return
	}
	if o.held[keyID] && !slices.ContainsFunc(keys, func(other awsmodel.Key) bool {
		return other.AccessKeyID != keyID && other.Status == types.StatusTypeActive && o.held[other.AccessKeyID]
	}) {
		s.violate("an owner with a usable email keeps an active key they received",
			fmt.Sprintf("%s %s of %s leaves the owner no active key they hold (keys %v)", c.Operation, keyID, user, keyIDs(keys)))
	}
	if c.Operation == "UpdateAccessKey" {
		due, attempted := s.warnDue[keyID]
		day, warned := s.warnedOn[keyID]
		if now := s.deactivationDue(k, keys, tags); attempted && now < due {
			// The owner shortened the key's timeline (RotationDays) since the promise: rule 3's
			// bounded wait counts from the key's date under the timeline it has now.
			due = now
		}
		if attempted && (!warned || day >= s.day) && !s.pastGrace(due) {
			s.violate("a promised warning is delivered before the action",
				fmt.Sprintf("%s's key %s deactivated on day %d without the warning (due %s) delivered on an earlier day; its story:\n    %s",
					user, keyID, s.day, due, strings.Join(s.trace[keyID], "\n    ")))
		}
	}
}

// unused reports whether k was not used for the unused-at days of the policy as its user's
// tags (RotationDays) set it (rule 2).
func (s *sim) unused(k awsmodel.Key, tags map[string]string) bool {
	cfg, _ := s.policy.ForUser(tags)
	last := k.Created
	if k.LastUsed != nil && k.LastUsed.After(last) {
		last = *k.LastUsed
	}
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	return day(s.now).Sub(day(last)) >= time.Duration(cfg.Timeline().UnusedAt)*24*time.Hour
}

// deactivationDue is the day rule 3 deactivates Active key k under the timeline of its
// user's tags: at deactivate-at, and not before noticePeriod days after the youngest other
// Active key, its replacement (pkg/policy deactivationDue).
func (s *sim) deactivationDue(k awsmodel.Key, keys []awsmodel.Key, tags map[string]string) string {
	cfg, _ := s.policy.ForUser(tags)
	due := k.Created.AddDate(0, 0, cfg.Timeline().DeactivateAt)
	for _, other := range keys {
		if other.AccessKeyID != k.AccessKeyID && other.Status == types.StatusTypeActive && other.Created.After(k.Created) {
			if after := other.Created.AddDate(0, 0, cfg.NoticePeriod); after.After(due) {
				due = after
			}
		}
	}
	return due.Format(time.DateOnly)
}

// pastGrace reports whether noticePeriod days passed since due (the bounded wait).
func (s *sim) pastGrace(due string) bool {
	t, err := time.Parse(time.DateOnly, due)
	return err == nil && !s.now.Before(t.AddDate(0, 0, s.policy.NoticePeriod))
}

// givenUp reports whether the rotator may give up the owner's address: its mail bounces, or
// a new key's delivery failed noticePeriod days past the old key's date.
func (s *sim) givenUp(o *owner) bool {
	if given := s.w.Tags(o.account, o.user)[history.UndeliverableTag]; given != "" && (strings.EqualFold(given, s.address(o)) || given == appsecret.Scheme+o.app) {
		return true
	}
	for _, sec := range s.w.SecretsList() {
		if sec.Tags["key-rotator:user"] == o.user && strings.Contains(sec.Name, "/"+o.account+"/") && s.pastGrace(sec.Tags["key-rotator:deactivate-on"]) {
			return true
		}
	}
	return false
}

// checkKeysAccounted: every Active key the rotator created is held by its owner, waiting in
// its hand-off secret (scheduled for deletion or not: a run lists it, and can restore it), or
// covered by a pending mark (an orphan the next run deletes): never left active unknown.
func (s *sim) checkKeysAccounted() {
	stored := map[string]bool{}
	for _, sec := range s.w.SecretsList() {
		if m := secretKeyID.FindStringSubmatch(sec.Name); m != nil {
			stored[m[1]] = true
		}
	}
	for _, o := range s.sortedOwners() {
		_, marked := s.w.Tags(o.account, o.user)[history.PendingTag]
		for _, k := range s.w.Keys(o.account, o.user) {
			if _, made := s.rotatorKeys[k.AccessKeyID]; made && k.Status == types.StatusTypeActive && !o.held[k.AccessKeyID] && !stored[k.AccessKeyID] && !marked {
				s.violate("a created key is never lost", fmt.Sprintf("%s's key %s is neither delivered, nor stored, nor marked; its story:\n    %s",
					o.user, k.AccessKeyID, strings.Join(append(s.trace[k.AccessKeyID], s.trace[o.account+"/"+o.user]...), "\n    ")))
			}
		}
	}
}

// checkAppSecrets: a machine user whose secret opts in always holds an Active key whose
// secret value matches what its application reads from the secret, once the rotator wrote
// one there (until then the application reads the original).
//
// First, whatever the secret's tags say now: a key of the user's that the rotator made and
// its application reads from the secret, with its secret part, is held (delivered), also
// when the PutSecretValue that wrote it lost its response and the opt-in was withdrawn
// since; the rotator then rightly finds it there and deletes its hand-off secret.
func (s *sim) checkAppSecrets() {
	for _, o := range s.sortedOwners() {
		if app, _ := s.appReads(o); o.app != "" && s.keyOwner[app.AccessKeyID] == o && !o.held[app.AccessKeyID] &&
			app.SecretAccessKey != "" && app.SecretAccessKey == s.secretOf[app.AccessKeyID] {
			s.holds(o, app.AccessKeyID, "found in "+o.app) // written by a call whose response was lost
		}
		if !s.appServed(o) {
			continue
		}
		app, _ := s.appReads(o)
		switch {
		case s.rotatorKeys[app.AccessKeyID] == "" && s.keyOwner[app.AccessKeyID] == nil, app.AccessKeyID == o.lapsed:
			// the original value (the application team's, under the ordinary rules), or a key
			// lost while the secret refused new keys
		case !s.active(o, app.AccessKeyID):
			s.violate("a machine user's application keeps an active key", fmt.Sprintf("%s: its application reads %s from %s, which is not an active key (keys %v); its story:\n    %s",
				o.user, app.AccessKeyID, o.app, keyIDs(s.w.Keys(o.account, o.user)), strings.Join(s.trace[app.AccessKeyID], "\n    ")))
		case app.SecretAccessKey != s.secretOf[app.AccessKeyID]:
			s.violate("the application's secret holds its key's secret access key", fmt.Sprintf("%s: %s holds key %s with another secret access key", o.user, o.app, app.AccessKeyID))
		}
	}
}

// checkLeaks searches everything the Lambdas logged and returned for every secret made.
func (s *sim) checkLeaks() {
	text := s.logs.String() + s.emitted.String()
	for _, secret := range s.secrets {
		if strings.Contains(text, secret) {
			s.violate("no secret anywhere", fmt.Sprintf("a secret of %d characters appears in the logs or payloads", len(secret)))
		}
	}
}

// violate records a broken invariant, once per invariant and subject (a key or user stuck in
// a bad state would otherwise be reported every day).
func (s *sim) violate(invariant, detail string) {
	subject := invariant + " " + strings.Fields(detail + " ")[0]
	if s.reported[subject] {
		return
	}
	s.reported[subject] = true
	s.res.Violations = append(s.res.Violations, Violation{Seed: s.cfg.Seed, Day: s.day, Invariant: invariant, Detail: detail, Recent: s.w.Recent()})
}

func keyIDs(keys []awsmodel.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.AccessKeyID+"/"+string(k.Status))
	}
	return out
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
