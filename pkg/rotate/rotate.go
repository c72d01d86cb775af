// Package rotate carries out the policy in one member account: it scans, then reads, plans
// and writes one user at a time in a crash-safe order, and returns what NotifyUser must send.
// A created key is always delivered, waiting in its hand-off secret for (re)delivery, or
// deleted as an orphan; a key is never deleted or deactivated on state read before another
// user's writes, and an exempt user is never written to.
package rotate

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// DefaultSettle is how long a key creation is given to settle: IAM's ListAccessKeys may miss a
// new key for seconds, and Secrets Manager's ListSecrets may miss a new secret (or still list
// a deleted one) for up to five minutes. A user with a pending mark or a key younger than
// this is left alone until the next run.
const DefaultSettle = 5 * time.Minute

// IAMAPI is the part of IAM the rotator uses in a member account.
type IAMAPI interface {
	scan.IAMAPI
	CreateAccessKey(context.Context, *iam.CreateAccessKeyInput, ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(context.Context, *iam.UntagUserInput, ...func(*iam.Options)) (*iam.UntagUserOutput, error)
}

// Bounces tells whether mail to an address bounced or drew a complaint (SES's suppression
// list): SES accepting a message is not its delivery.
type Bounces interface {
	// SuppressedSince reports whether address is on the list, and since when (zero: SES
	// did not say).
	SuppressedSince(ctx context.Context, address string) (bool, time.Time, error)
}

// Rotator processes one account.
type Rotator struct {
	IAM     IAMAPI
	Secrets handoff.SecretsAPI
	// AppSecrets is the member account's Secrets Manager: the secrets that machine users'
	// keys are delivered to (pkg/appsecret), checked before a key is made for them and
	// read to confirm a delivery.
	AppSecrets appsecret.API
	// AppParams is the member account's SSM: the SecureString parameters that machine users'
	// keys are delivered to, as AppSecrets.
	AppParams appsecret.ParamAPI
	// GitHub is the rotator's GitHub App, for the users whose keys go to GitHub Actions
	// secrets (nil: none may).
	GitHub  *appsecret.GitHub
	Scanner *scan.Scanner
	Bounces Bounces
	// Leases keeps another execution from writing in the account while this one does (nil:
	// no lease, for a dry run's tools).
	Leases *lease.Leases
	Policy policy.Config
	// Seal signs the rotator's tags on IAM users and verifies them when read
	// (history.Seal): a tag it does not verify is taken as absent, which only postpones.
	Seal *history.Seal
	// HandoffPrefix and HandoffKMSKeyID place and encrypt the hand-off secrets.
	HandoffPrefix   string
	HandoffKMSKeyID string
	// MaxNotifications bounds the notifications of one account's run (0: 550), so that one
	// account's first run cannot flood its owners' inboxes and SES's quota at once. Users with
	// writes (at most maxUsers) always notify; users who would only get a notice or the
	// redelivery of a key wait for the next run beyond the bound.
	MaxNotifications int
	// Settle is DefaultSettle unless set; Clock is time.Now unless set (the wall clock that
	// dates pending marks, compared with IAM's CreateDate).
	Settle time.Duration
	Clock  func() time.Time
	Log    *slog.Logger
	// Holds is the operators' holds (pkg/hold), read once per run; nil: none.
	Holds *hold.Store
}

// DefaultMaxNotifications is MaxNotifications' default. (It once kept an account's
// notifications within one child execution's history; they now travel through S3, one child
// execution each, docs/scale.md.)
const DefaultMaxNotifications = 550

// Process runs the policy in one account. An error means the account could not be scanned
// (nothing was written); failures of single users are recorded in their results instead, so
// that one user never stops the others.
func (r *Rotator) Process(ctx context.Context, run workflow.Run, acct workflow.Account) (workflow.AccountResult, []workflow.Notification, error) {
	res := workflow.AccountResult{Run: run, Account: acct, Status: workflow.AccountDone, Users: []workflow.UserResult{}}
	cfg := r.Policy.WithDefaults()
	cfg.Cleanup = run.Cleanup
	if err := cfg.Validate(); err != nil {
		return res, nil, fmt.Errorf("policy of account %s: %w", acct.AccountID, err)
	}
	if r.Seal == nil {
		return res, nil, fmt.Errorf("account %s: no tag key: the rotator cannot verify or sign its tags on IAM users", acct.AccountID)
	}
	if r.Leases != nil && !run.DryRun {
		release, err := r.Leases.Acquire(ctx, acct.AccountID, run.RunID)
		if err != nil {
			return res, nil, err
		}
		defer func() {
			if err := release(ctx); err != nil {
				r.Log.WarnContext(ctx, "lease left to expire", "account", acct.AccountID, "error", err.Error())
			}
		}()
	}
	pending, problems, err := handoff.List(ctx, r.Secrets, r.HandoffPrefix, acct.AccountID)
	if err != nil {
		return res, nil, err
	}
	e := &execution{Rotator: r, cfg: cfg, run: run, acct: acct, res: &res, pending: map[string][]handoff.Pending{}, confirmed: map[string]bool{}, judgedRead: map[string]judged{},
		noticeBudget: cmp.Or(r.MaxNotifications, DefaultMaxNotifications)}
	if err := e.readHolds(ctx); err != nil {
		return res, nil, err
	}
	// Before the member account is read: a run that cannot read it still settles its secrets.
	e.settleScheduled(ctx, pending)
	found, err := r.Scanner.Candidates(ctx, cfg, run.Now)
	if err != nil {
		return res, nil, fmt.Errorf("scan account %s: %w", acct.AccountID, err)
	}
	res.Counts.Users = found.Users
	e.rows = rowsByName(found.Rows)
	for _, p := range problems {
		e.fail(ctx, workflow.UserResult{UserName: "(hand-off secret)"}, p)
	}
	if len(found.NotScanned) > 0 || found.Unlisted {
		e.notScanned(ctx, found)
	}
	names := found.Candidates // most urgent first
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		p := pending[id]
		if !slices.Contains(names, p.UserName) {
			names = append(names, p.UserName)
		}
		e.pending[p.UserName] = append(e.pending[p.UserName], p)
	}
	for _, name := range e.placedNow() {
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	r.Log.InfoContext(ctx, "scanned account", "account", acct.AccountID, "users", found.Users,
		"candidates", len(names), "source", found.Source, "pendingDeliveries", len(pending))
	for i, name := range names {
		if scan.OutOfTime(ctx, TimeReserve) {
			e.deferRest(ctx, names[i:])
			break
		}
		e.usersLeft = len(names) - i - 1
		if why := e.unread(name, found.WriteDue[name]); why != "" {
			e.deferUsers([]string{name}, why)
			continue
		}
		e.user(ctx, name)
	}
	e.advise()
	return res, e.notifications, nil
}

// unread says why a candidate is deferred without being read, or "" to read it. Once
// maxUsers users have writes (rule 8), reading a user whose keys alone show a write due
// (scan.Result.WriteDue) could only defer it; a user who may need only notices is read
// unless the notification limit is reached too. A user with a key awaiting delivery is
// always read: its delivery is confirmed, given up or sent again.
func (e *execution) unread(name string, writeDue bool) string {
	switch {
	case e.writers < e.cfg.MaxUsers || len(e.pending[name]) > 0:
		return ""
	case writeDue:
		return fmt.Sprintf("deferred: %s; not read (its keys show a write due), it waits for the next run", e.maxUsersReached())
	case e.noticeBudget <= 0:
		return noticeLimitReached
	}
	return ""
}

// maxUsersReached says why a user with writes due is deferred (rule 8).
func (e *execution) maxUsersReached() string {
	return fmt.Sprintf("%d users of this account already have writes in this run and maxUsers is %d", e.writers, e.cfg.MaxUsers)
}

// noticeLimitReached is why a user with notices but no writes is deferred.
const noticeLimitReached = "notices deferred to the next run: this run's notification limit is reached"

// TimeReserve is the time an invocation keeps for writing its result and notifications: users
// not reached before the Lambda's deadline minus this wait for the next run. The scanner's
// listing (no credential report) keeps it too (scan.Scanner.Reserve).
const TimeReserve = 2 * time.Minute

// deferRest reports the users this invocation has no time left for: nothing is read or
// written for them; the next run takes them, most urgent first as always.
func (e *execution) deferRest(ctx context.Context, names []string) {
	e.Log.WarnContext(ctx, "time budget reached", "account", e.acct.AccountID, "usersDeferred", len(names))
	e.deferUsers(names, fmt.Sprintf("deferred: this run's time budget was reached (%s kept for its results); the next run takes the user", TimeReserve))
}

// notScanned reports the users the listing (no credential report) had no time to read: each
// is deferred, and a row says when users beyond them were not even listed.
func (e *execution) notScanned(ctx context.Context, found scan.Result) {
	e.Log.WarnContext(ctx, "time budget reached while listing users without a credential report", "account", e.acct.AccountID,
		"usersNotScanned", len(found.NotScanned), "moreUsersNotListed", found.Unlisted)
	why := fmt.Sprintf("IAM gave no credential report, and this run's time budget was reached while listing users one by one (%s kept for its results)", TimeReserve)
	e.deferUsers(found.NotScanned, "deferred, not scanned: "+why+"; the next run scans the user")
	if found.Unlisted {
		e.res.Users = append(e.res.Users, workflow.UserResult{UserName: "(users not listed)", Status: policy.StatusDeferred,
			Reason: fmt.Sprintf("not scanned: %s; users after the %d listed were not listed; the next run lists them", why, found.Users)})
	}
}

// deferUsers reports users that this run neither read nor wrote, and why.
func (e *execution) deferUsers(names []string, reason string) {
	for _, name := range names {
		e.res.Counts.Deferred++
		e.res.Users = append(e.res.Users, workflow.UserResult{UserName: name, Status: policy.StatusDeferred, Reason: reason})
	}
}

// execution is the state of one account's run.
type execution struct {
	*Rotator
	cfg           policy.Config
	run           workflow.Run
	acct          workflow.Account
	pending       map[string][]handoff.Pending // by user name
	confirmed     map[string]bool              // keys whose delivery this run confirmed before reading users
	res           *workflow.AccountResult
	notifications []workflow.Notification
	writers       int                  // users given writes so far (rule 8)
	noticeBudget  int                  // notifications this run may still queue
	usersLeft     int                  // users still to process after the current one
	holds         map[string]hold.Hold // the account's holds that hold today, by user name
	// rows are the scan's rows by user name, and judgedRead the use of the keys of each user
	// read in full (advice.go).
	rows       map[string]scan.ReportUser
	judgedRead map[string]judged
}

func (e *execution) now() time.Time {
	if e.Clock != nil {
		return e.Clock()
	}
	return time.Now()
}

func (e *execution) fail(ctx context.Context, ur workflow.UserResult, err error) {
	ur.Error = err.Error()
	e.res.Counts.Failures++
	e.res.Users = append(e.res.Users, ur)
	e.Log.ErrorContext(ctx, "user failed", "account", e.acct.AccountID, "user", ur.UserName, "error", err.Error())
}

func (s *settling) Error() string { return s.reason }
