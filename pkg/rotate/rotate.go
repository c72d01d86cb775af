// Package rotate carries out the policy in one member account: it scans, then reads, plans
// and writes one user at a time in a crash-safe order, and returns what NotifyUser must send.
// A created key is always delivered, waiting in its hand-off secret for (re)delivery, or
// deleted as an orphan; a key is never deleted or deactivated on state read before another
// user's writes, and an exempt user is never written to.
package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// orphanSlack allows for clock skew between the mark's time and IAM's CreateDate; a key
// created more than OrphanWindow after the mark was not made by the marked attempt (the
// mark is written just before the one CreateAccessKey call). A key the owner creates within
// that window after a creation whose outcome is unknown, and has not used by the next run,
// cannot be told from the orphan: IAM does not say who created a key.
const (
	orphanSlack  = time.Minute
	OrphanWindow = 2 * time.Minute
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
	Suppressed(ctx context.Context, address string) (bool, error)
}

// Rotator processes one account.
type Rotator struct {
	IAM     IAMAPI
	Secrets handoff.SecretsAPI
	// AppSecrets is the member account's Secrets Manager: the secrets that machine users'
	// keys are delivered to (pkg/appsecret), checked before a key is made for them and
	// read to confirm a delivery.
	AppSecrets appsecret.API
	Scanner    *scan.Scanner
	Bounces    Bounces
	// Leases keeps another execution from writing in the account while this one does (nil:
	// no lease, for a dry run's tools).
	Leases *lease.Leases
	Policy policy.Config
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
	e := &execution{Rotator: r, cfg: cfg, run: run, acct: acct, res: &res, pending: map[string][]handoff.Pending{}, confirmed: map[string]bool{},
		noticeBudget: cmp.Or(r.MaxNotifications, DefaultMaxNotifications)}
	// Before the member account is read: a run that cannot read it still settles its secrets.
	e.settleScheduled(ctx, pending)
	found, err := r.Scanner.Candidates(ctx, cfg, run.Now)
	if err != nil {
		return res, nil, fmt.Errorf("scan account %s: %w", acct.AccountID, err)
	}
	res.Counts.Users = found.Users
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
	return res, e.notifications, nil
}

// settleScheduled decides, before any user is read, on the secrets NotifyUser scheduled for
// deletion on an earlier day once SES accepted their emails: a delivery that did not bounce
// is confirmed (the secret deleted for good, the key delivered), any other secret restored,
// so that its key can be sent again and, above all, so that it does not reach the end of its
// recovery window, where Secrets Manager would delete it and its unconfirmed key would count
// as delivered. Done for the whole account at once, it does not depend on a user's run
// getting that far (an exempt user, a failing one, a deferred one, a crash). A secret this
// fails on stays scheduled for the next run, within its window.
func (e *execution) settleScheduled(ctx context.Context, pending map[string]handoff.Pending) {
	if e.run.DryRun {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(pending)) {
		p := pending[id]
		if !p.Scheduled || history.SameDay(p.Sent, e.run.Now) {
			continue
		}
		confirmed, err := false, error(nil)
		if !p.Sent.IsZero() {
			confirmed, err = e.confirm(ctx, p)
		}
		if err == nil && !confirmed {
			var restored bool
			restored, err = handoff.Restore(ctx, e.Secrets, p.SecretARN)
			confirmed = !restored // gone: deleted for good since the listing
		}
		switch {
		case err != nil:
			e.fail(ctx, workflow.UserResult{UserName: "(hand-off secret)"}, fmt.Errorf("new key %s of %s: %w", id, p.UserName, err))
		case confirmed:
			// Still listed for the user's run: its orphan sweep must know the key was stored.
			e.confirmed[id] = true
		default:
			p.Scheduled = false
			pending[id] = p
			e.Log.InfoContext(ctx, "hand-off secret restored until its delivery is confirmed", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", id)
		}
	}
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
	writers       int // users given writes so far (rule 8)
	noticeBudget  int // notifications this run may still queue
	usersLeft     int // users still to process after the current one
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

// userRun is one user's read, plan and writes.
type userRun struct {
	*execution
	u       policy.User
	ur      workflow.UserResult
	pending map[string]handoff.Pending // the user's unconfirmed deliveries, by key ID
	// inactive is the deactivated tag's content as it must be written (nil: unchanged).
	inactive map[string]history.Inactive
	// deliverTo is the secret a new key of the user goes to (pkg/appsecret); "": by email.
	deliverTo string
}

// user reads one user fresh, plans it, and carries the plan out at once, so that every write
// rests on state read moments before, not before other users' writes.
func (e *execution) user(ctx context.Context, name string) {
	u, err := e.Scanner.User(ctx, name)
	var gone *types.NoSuchEntityException
	switch {
	case errors.As(err, &gone):
		e.Log.InfoContext(ctx, "user deleted since the scan", "account", e.acct.AccountID, "user", name)
		for _, p := range e.pending[name] {
			if err := e.dropStale(ctx, p); err != nil {
				e.fail(ctx, workflow.UserResult{UserName: name}, err)
			}
		}
		return
	case err != nil:
		e.fail(ctx, workflow.UserResult{UserName: name}, err)
		return
	}
	ur := &userRun{execution: e, u: u, ur: workflow.UserResult{UserName: name}, pending: map[string]handoff.Pending{}}
	if policy.Exempt(u.Tags, e.cfg) {
		// Rule 1 comes first: no write of any kind, whatever other tags the user carries.
		e.res.Counts.Exempt++
		e.res.Users = append(e.res.Users, workflow.UserResult{UserName: name, Status: policy.StatusExempt,
			Reason: fmt.Sprintf("tag %s=%s: exempt from rotation", e.cfg.ExemptTagKey, u.Tags[e.cfg.ExemptTagKey])})
		return
	}
	var wait *settling
	switch err := ur.prepare(ctx); {
	case errors.As(err, &wait):
		e.res.Counts.Deferred++
		e.res.Users = append(e.res.Users, workflow.UserResult{UserName: name, Status: policy.StatusDeferred, Reason: wait.reason})
		return
	case err != nil:
		e.fail(ctx, ur.ur, err)
		return
	}
	ur.planAndApply(ctx)
}

// settling is why a user whose last key creation is too recent to read reliably waits for
// the next run: not a failure.
type settling struct{ reason string }

func (s *settling) Error() string { return s.reason }

// prepare brings the user to a state the policy can decide on: the orphans of an interrupted
// creation deleted, confirmed deliveries closed, stale secrets dropped, and the history read.
func (ur *userRun) prepare(ctx context.Context) error {
	e := ur.execution
	keyIDs := map[string]bool{}
	created := map[string]time.Time{}
	for _, k := range ur.u.Keys {
		keyIDs[k.AccessKeyID], created[k.AccessKeyID] = true, k.CreateDate
	}
	for _, p := range e.pending[ur.u.UserName] {
		ur.pending[p.AccessKeyID] = p
	}
	settle := cmp.Or(e.Settle, DefaultSettle)
	for _, k := range ur.u.Keys {
		if _, stored := ur.pending[k.AccessKeyID]; !stored && e.now().Sub(k.CreateDate) < settle {
			return &settling{fmt.Sprintf("key %s was created at %s, less than %s ago: its hand-off secret may not be listed yet, so the user waits for the next run",
				k.AccessKeyID, k.CreateDate.Format(time.RFC3339), settle)}
		}
	}
	if err := ur.clearOrphans(ctx); err != nil {
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(ur.pending)) {
		p := ur.pending[id]
		switch {
		case e.confirmed[id]:
			delete(ur.pending, id)
		case !keyIDs[id]:
			if err := e.dropStale(ctx, p); err != nil {
				return err
			}
			delete(ur.pending, id)
		case ur.confirmable(p, created[id]) && !e.run.DryRun:
			confirmed, err := e.confirm(ctx, p)
			if err != nil {
				return err
			}
			if confirmed {
				delete(ur.pending, id)
			}
		}
	}
	email, _ := policy.OwnerEmail(ur.u.Tags, e.cfg)
	dest, err := ur.destination(ctx, email)
	if err != nil {
		return err
	}
	if given := ur.u.Tags[history.UndeliverableTag]; given != "" && strings.EqualFold(given, dest) {
		ur.u.DeliveryProblem = fmt.Sprintf("delivery to %s was given up (tag %s): set a new address in the email tag, or a new %s, to resume rotation",
			given, history.UndeliverableTag, appsecret.DeliveryTag)
	}
	for _, id := range slices.Sorted(maps.Keys(ur.pending)) {
		if problem := ur.deliveryGivenUp(ur.pending[id]); problem != "" {
			ur.u.DeliveryProblem = problem
			if err := ur.dropUndeliverable(ctx, ur.pending[id], email, problem); err != nil {
				return err
			}
		}
	}
	for i, k := range ur.u.Keys {
		if _, ok := ur.pending[k.AccessKeyID]; ok {
			ur.u.Keys[i].Undelivered = true
		}
	}
	if newly := history.Apply(&ur.u, e.run.Now, email); len(newly) > 0 {
		ur.inactive = history.ParseDeactivated(ur.u.Tags[history.DeactivatedTag])
		for _, id := range newly {
			ur.inactive[id] = history.Inactive{Since: e.run.Now}
		}
	}
	return nil
}

// confirmable reports whether a delivery may be confirmed by this run: a later day's run than
// the one that sent it (SES accepting a message is not its delivery, and a same-day re-run
// writes nothing); for a key delivered to a secret, also before its owner's notice went out
// (a key written to its secret is delivered), but not on the day the key was created.
func (ur *userRun) confirmable(p handoff.Pending, keyCreated time.Time) bool {
	if p.DeliverTo != "" {
		return !history.SameDay(keyCreated, ur.run.Now) && !history.SameDay(p.Sent, ur.run.Now)
	}
	return !p.Sent.IsZero() && !history.SameDay(p.Sent, ur.run.Now)
}

// destination is where a new key of the user would go: the owner's address, or
// "secretsmanager:<name>" when the KeyDelivery tag names a secret (pkg/appsecret). Before any
// key is made the secret is checked to opt in; a tag that cannot be read, or a secret that
// refuses, is the user's DeliveryProblem: no key is made (rule 6) and the report says why.
func (ur *userRun) destination(ctx context.Context, email string) (string, error) {
	name, err := appsecret.Target(ur.u.Tags)
	switch {
	case err != nil:
		ur.u.DeliveryProblem = err.Error()
		return "", nil
	case name == "":
		return email, nil
	}
	ur.deliverTo = name
	if len(ur.pending) == 0 {
		var refused *appsecret.Refused
		switch err := appsecret.Check(ctx, ur.AppSecrets, name, ur.u.UserName); {
		case errors.As(err, &refused):
			ur.u.DeliveryProblem = err.Error() + ": no new key is made for the user"
		case err != nil:
			return "", err
		}
	}
	return appsecret.Scheme + name, nil
}

// clearOrphans deletes the keys an interrupted CreateAccessKey left behind: created since the
// user's pending mark, without a hand-off secret, never used, still Active (someone who
// deactivated it knows of it: the ordinary rules then apply). A mark that cannot be read, or
// that is too young for IAM to list the key it covers, causes no deletion: the user is left
// for a later run.
func (ur *userRun) clearOrphans(ctx context.Context) error {
	e := ur.execution
	mark, marked := ur.u.Tags[history.PendingTag]
	if !marked {
		return nil
	}
	since, err := time.Parse(time.RFC3339, strings.Fields(mark + " ")[0])
	if err != nil {
		return fmt.Errorf("tag %s %q is not an RFC 3339 time: no key is deleted on its account; remove the tag once the user's keys are checked", history.PendingTag, mark)
	}
	if settle := cmp.Or(e.Settle, DefaultSettle); e.now().Sub(since) < settle {
		return &settling{fmt.Sprintf("a key creation started at %s is settling (IAM lists new keys within %s): the user waits for the next run", mark, settle)}
	}
	if e.run.DryRun {
		return nil
	}
	var kept []policy.Key
	for _, k := range ur.u.Keys {
		if _, stored := ur.pending[k.AccessKeyID]; stored || k.LastUsedDate != nil || k.Status != policy.Active ||
			k.CreateDate.Before(since.Add(-orphanSlack)) || k.CreateDate.After(since.Add(OrphanWindow)) {
			kept = append(kept, k)
			continue
		}
		a := workflow.ActionResult{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: k.AccessKeyID, Reason: fmt.Sprintf(
			"key %s was created at %s by a run that was interrupted before storing it for delivery, and never used: delete the orphan",
			k.AccessKeyID, k.CreateDate.Format(time.RFC3339))}}
		if err := ur.deleteKey(ctx, k.AccessKeyID); err != nil {
			return fmt.Errorf("delete orphan key %s of %s: %w", k.AccessKeyID, ur.u.UserName, err)
		}
		a.Done = true
		ur.ur.Actions = append(ur.ur.Actions, a)
		countAction(&e.res.Counts, policy.DeleteKey)
	}
	if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: []string{history.PendingTag}}); err != nil {
		return fmt.Errorf("clear the pending mark of %s: %w", ur.u.UserName, err)
	}
	ur.u.Keys = kept
	delete(ur.u.Tags, history.PendingTag)
	return nil
}

// confirm closes a delivery SES accepted on an earlier day: unless the owner's address
// bounced since, the key counts as delivered and its secret is deleted for good (also when
// NotifyUser scheduled its deletion: it goes now, not at the end of the recovery window). A
// bounced delivery stays pending: its key is sent again, and gives up after the bounded wait.
func (e *execution) confirm(ctx context.Context, p handoff.Pending) (bool, error) {
	if p.DeliverTo != "" {
		// A key written to its secret is delivered, whatever became of the owner's notice.
		written, err := appsecret.Written(ctx, e.AppSecrets, p.DeliverTo, p.AccessKeyID)
		if err != nil || !written {
			return false, err
		}
	} else if e.Bounces != nil {
		bounced, err := e.Bounces.Suppressed(ctx, p.SentTo)
		if err != nil {
			return false, fmt.Errorf("check whether mail to the owner of %s bounced: %w", p.UserName, err)
		}
		if bounced {
			e.Log.WarnContext(ctx, "new key's email bounced", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID)
			return false, nil
		}
	}
	if err := handoff.Delete(ctx, e.Secrets, p.SecretARN); err != nil {
		return false, err
	}
	e.Log.InfoContext(ctx, "delivery confirmed", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID)
	return true, nil
}

// deliveryGivenUp says why the owner's address no longer counts, once a key's delivery kept
// failing for noticePeriod days past the old key's deactivation date (the bounded wait).
func (ur *userRun) deliveryGivenUp(p handoff.Pending) string {
	due, err := time.Parse(time.DateOnly, p.DeactivateOn)
	if err != nil {
		due = p.Created
	}
	limit := due.AddDate(0, 0, ur.cfg.NoticePeriod)
	if ur.run.Now.Before(limit) {
		return ""
	}
	return fmt.Sprintf("new key %s could not be delivered by %s, %d days past the deactivation date of %s: the address is given up",
		p.AccessKeyID, limit.Format(time.DateOnly), ur.cfg.NoticePeriod, cmp.Or(p.Replaces, "the old key"))
}

// dropUndeliverable deletes a new key that could not be delivered within the bounded wait,
// and its secret: nobody holds it, and the owner's address is given up.
func (ur *userRun) dropUndeliverable(ctx context.Context, p handoff.Pending, email, problem string) error {
	e := ur.execution
	i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == p.AccessKeyID })
	if i >= 0 && ur.u.Keys[i].Status == policy.Inactive {
		// Somebody deactivated it: not deleted on the day it was first known inactive (the
		// next run deletes it); its secret stays with it until then.
		since, known := history.ParseDeactivated(ur.u.Tags[history.DeactivatedTag])[p.AccessKeyID]
		if !known || history.SameDay(since.Since, e.run.Now) {
			return nil
		}
	}
	a := workflow.ActionResult{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: p.AccessKeyID, Reason: problem + ": delete the undelivered key"}}
	if !e.run.DryRun {
		if p.DeliverTo != "" {
			email = appsecret.Scheme + p.DeliverTo
		}
		if email != "" {
			if err := ur.setTags(ctx, map[string]string{history.UndeliverableTag: email}); err != nil {
				return err
			}
		}
		if err := ur.deleteKey(ctx, p.AccessKeyID); err != nil {
			return fmt.Errorf("delete undeliverable key %s of %s: %w", p.AccessKeyID, ur.u.UserName, err)
		}
		if err := handoff.Delete(ctx, e.Secrets, p.SecretARN); err != nil {
			return err
		}
		a.Done = true
	}
	ur.ur.Actions = append(ur.ur.Actions, a)
	countAction(&e.res.Counts, policy.DeleteKey)
	delete(ur.pending, p.AccessKeyID)
	ur.u.Keys = slices.DeleteFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == p.AccessKeyID })
	return nil
}

// dropStale deletes the secret of a key that no longer exists, once the secret is old enough
// for IAM to have listed its key (a key created seconds ago may not be listed yet).
func (e *execution) dropStale(ctx context.Context, p handoff.Pending) error {
	if e.run.DryRun || e.now().Sub(p.Created) < cmp.Or(e.Settle, DefaultSettle) {
		return nil
	}
	return handoff.Delete(ctx, e.Secrets, p.SecretARN)
}

// planAndApply plans the prepared user and carries the plan out: the history first, then
// deletes, deactivations and the new key, stopping at the first failure; then it queues the
// notification. In a dry run nothing is written and the counts say what would happen.
func (ur *userRun) planAndApply(ctx context.Context) {
	e := ur.execution
	plan, err := policy.PlanUsers([]policy.User{ur.u}, e.cfg, e.run.Now)
	if err != nil {
		e.fail(ctx, ur.ur, fmt.Errorf("plan: %w", err))
		return
	}
	up := plan.Users[0]
	if up, err = ur.unlessBounced(ctx, up); err != nil {
		e.fail(ctx, ur.ur, err)
		return
	}
	if len(up.Actions) > 0 {
		if e.writers >= e.cfg.MaxUsers {
			policy.Defer(&up, e.maxUsersReached())
		} else {
			e.writers++
		}
	}
	ur.ur.Status, ur.ur.Reason, ur.ur.EmailProblem, ur.ur.Notices, ur.ur.Keys = up.Status, up.Reason, up.EmailProblem, up.Notices, up.Keys
	ur.ur.RotationDaysProblem = up.RotationDaysProblem
	c := &e.res.Counts
	switch {
	case up.Status == policy.StatusDeferred:
		c.Deferred++
	case up.EmailProblem != "":
		c.NoUsableEmail++
	}
	var newKey *workflow.NewKey
	if !e.run.DryRun {
		ur.recordInactive(up)
		err = ur.writeHistory(ctx)
	}
	for _, a := range up.Actions {
		if err != nil {
			break
		}
		ar := workflow.ActionResult{Action: a}
		if !e.run.DryRun {
			if newKey, err = ur.write(ctx, up, a); err != nil {
				err = fmt.Errorf("%s %s for %s: %w", a.Action, a.AccessKeyID, ur.u.UserName, err)
				ur.ur.Actions = append(ur.ur.Actions, ar)
				break
			}
			ar.Done = true
		}
		if newKey != nil {
			ar.NewAccessKeyID = newKey.AccessKeyID
		}
		ur.ur.Actions = append(ur.ur.Actions, ar)
		countAction(c, a.Action)
		e.Log.InfoContext(ctx, "key action", "account", e.acct.AccountID, "user", ur.u.UserName, "action", a.Action, "accessKeyId", a.AccessKeyID,
			"newAccessKeyId", ar.NewAccessKeyID, "dryRun", e.run.DryRun, "reason", a.Reason)
	}
	if err == nil && !e.run.DryRun {
		err = ur.setTags(ctx, ur.prune())
	}
	if err == nil {
		ur.queue(ctx, up, newKey)
		c.Notices += len(ur.ur.Notices)
	}
	switch {
	case err != nil:
		e.fail(ctx, ur.ur, err)
	case up.Status != policy.StatusOK || ur.ur.EmailProblem != "" || up.RotationDaysProblem != "" || len(ur.ur.Actions) > 0 ||
		slices.ContainsFunc(up.Keys, func(k policy.KeyUsage) bool { return k.AtRisk }):
		e.res.Users = append(e.res.Users, ur.ur)
	}
}

// unlessBounced re-plans a user whose plan acts on the strength of notices delivered to an
// address that bounced since (SES accepting a message is not its delivery): without those
// notices, the action waits for a warning that arrives, or for the bounded wait to end.
func (ur *userRun) unlessBounced(ctx context.Context, up policy.UserPlan) (policy.UserPlan, error) {
	e := ur.execution
	destructive := slices.ContainsFunc(up.Actions, func(a policy.Action) bool {
		return a.Action == policy.DeactivateKey || a.Action == policy.DeleteKey
	})
	if !destructive || up.Email == "" || len(ur.u.NoticesSent) == 0 || e.Bounces == nil {
		return up, nil
	}
	bounced, err := e.Bounces.Suppressed(ctx, up.Email)
	if err != nil || !bounced {
		return up, err
	}
	u := ur.u
	u.NoticesSent, u.NoticesSentToday = nil, nil
	plan, err := policy.PlanUsers([]policy.User{u}, e.cfg, e.run.Now)
	if err != nil {
		return up, fmt.Errorf("plan: %w", err)
	}
	// What was sent is not sent again to the bouncing address (nor on every re-run).
	replanned := plan.Users[0]
	replanned.Notices = slices.DeleteFunc(replanned.Notices, func(n policy.Notice) bool { return slices.Contains(ur.u.NoticesSent, n.Ref()) })
	return replanned, nil
}

// recordInactive adds the keys the plan deactivates to the deactivated tag, as deactivated by
// the rotator today: it is written before the deactivation, so that no failure can leave a
// key deactivated today without the record that keeps it from being deleted today.
func (ur *userRun) recordInactive(up policy.UserPlan) {
	for _, a := range up.Actions {
		if a.Action != policy.DeactivateKey {
			continue
		}
		if ur.inactive == nil {
			ur.inactive = history.ParseDeactivated(ur.u.Tags[history.DeactivatedTag])
		}
		ur.inactive[a.AccessKeyID] = history.Inactive{Since: ur.run.Now, ByRotator: true}
	}
}

// writeHistory writes the deactivated tag if it changed.
func (ur *userRun) writeHistory(ctx context.Context) error {
	if ur.inactive == nil {
		return nil
	}
	return ur.setTags(ctx, map[string]string{history.DeactivatedTag: history.FormatDeactivated(ur.inactive)})
}

// prune drops, after the writes, what the history remembers of keys that no longer exist,
// and the inactive-since day of keys active again.
func (ur *userRun) prune() map[string]string {
	exists := map[string]bool{}
	for _, k := range ur.u.Keys {
		exists[k.AccessKeyID] = ur.exists(k.AccessKeyID)
	}
	active := map[string]bool{}
	for _, k := range ur.u.Keys {
		active[k.AccessKeyID] = k.Status == policy.Active
	}
	for _, a := range ur.ur.Actions {
		if a.Done && a.Action.Action == policy.DeactivateKey {
			active[a.AccessKeyID] = false
		}
	}
	sent := slices.DeleteFunc(history.ParseNotices(ur.u.Tags[history.NoticesTag]), func(s history.Sent) bool { return !exists[s.AccessKeyID] })
	inactive := history.ParseDeactivated(ur.u.Tags[history.DeactivatedTag])
	// A key active again (its owner reactivated it) loses its record: if it is deactivated
	// again, that day is the one that counts.
	maps.DeleteFunc(inactive, func(id string, _ history.Inactive) bool { return !exists[id] || active[id] })
	return map[string]string{history.NoticesTag: history.FormatNotices(sent), history.DeactivatedTag: history.FormatDeactivated(inactive)}
}

// exists reports whether the user's key id exists after this run's writes.
func (ur *userRun) exists(id string) bool {
	return slices.ContainsFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id }) &&
		!slices.ContainsFunc(ur.ur.Actions, func(a workflow.ActionResult) bool {
			return a.Done && a.Action.Action == policy.DeleteKey && a.AccessKeyID == id
		})
}

// setTags writes the given history tags where they differ from what was read (an empty
// value removes the tag) and remembers what it wrote.
func (ur *userRun) setTags(ctx context.Context, values map[string]string) error {
	var set []types.Tag
	var unset []string
	for _, key := range slices.Sorted(maps.Keys(values)) {
		switch value, current := values[key], ur.u.Tags[key]; {
		case value == current:
		case value == "":
			unset = append(unset, key)
		default:
			set = append(set, types.Tag{Key: aws.String(key), Value: aws.String(value)})
		}
	}
	if len(set) > 0 {
		if _, err := ur.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &ur.u.UserName, Tags: set}); err != nil {
			return fmt.Errorf("record the key history of %s: %w", ur.u.UserName, err)
		}
	}
	if len(unset) > 0 {
		if _, err := ur.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: unset}); err != nil {
			return fmt.Errorf("clear the key history of %s: %w", ur.u.UserName, err)
		}
	}
	for key, value := range values {
		ur.u.Tags[key] = value
		if value == "" {
			delete(ur.u.Tags, key)
		}
	}
	return nil
}

// write makes one planned IAM write; a CreateKey returns the new key.
func (ur *userRun) write(ctx context.Context, up policy.UserPlan, a policy.Action) (*workflow.NewKey, error) {
	switch a.Action {
	case policy.DeleteKey:
		return nil, ur.deleteKey(ctx, a.AccessKeyID)
	case policy.DeactivateKey:
		_, err := ur.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &ur.u.UserName, AccessKeyId: aws.String(a.AccessKeyID), Status: types.StatusTypeInactive})
		return nil, err
	case policy.CreateKey:
		return ur.createKey(ctx, up, a)
	}
	return nil, fmt.Errorf("unknown action %q", a.Action)
}

// deleteKey deletes a key; one already gone (a retried call whose first response was lost)
// is done.
func (ur *userRun) deleteKey(ctx context.Context, id string) error {
	_, err := ur.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &ur.u.UserName, AccessKeyId: aws.String(id)})
	var gone *types.NoSuchEntityException
	if errors.As(err, &gone) {
		return nil
	}
	return err
}

func countAction(c *workflow.Counts, a policy.ActionName) {
	switch a {
	case policy.CreateKey:
		c.KeysCreated++
	case policy.DeactivateKey:
		c.KeysDeactivated++
	case policy.DeleteKey:
		c.KeysDeleted++
	}
}

// zipPassword is the password of the zip that mails the user's new key, made with the key so
// that a retried NotifyUser mails the same one; a key delivered to a secret is mailed in no
// zip, and has none.
func (ur *userRun) zipPassword() secret.Secret {
	if ur.deliverTo != "" {
		return secret.Secret{}
	}
	return handoff.NewZipPassword()
}

// createKey marks the intent, creates the key, stores it for delivery and clears the mark.
// CreateAccessKey is sent once, without the SDK's retries: a re-sent request whose first
// response was lost would make a second key this call never sees. When the outcome is
// unknown (a lost response, a 5xx), the mark stays and a later run deletes the orphan; when
// IAM refused the call outright, no key was made and the mark goes. A key created but not
// stored is deleted at once.
func (ur *userRun) createKey(ctx context.Context, up policy.UserPlan, a policy.Action) (*workflow.NewKey, error) {
	e := ur.execution
	mark := e.now().UTC().Format(time.RFC3339) + " " + e.run.RunID
	if _, err := e.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &ur.u.UserName, Tags: []types.Tag{{Key: aws.String(history.PendingTag), Value: &mark}}}); err != nil {
		return nil, fmt.Errorf("mark the new key's intent: %w", err)
	}
	out, err := e.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &ur.u.UserName}, func(o *iam.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		if refused(err) {
			return nil, errors.Join(fmt.Errorf("create access key: %w", err), ur.clearMark(ctx))
		}
		return nil, fmt.Errorf("create access key (outcome unknown: a later run deletes the key if it was made): %w", err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	name := handoff.Name(e.HandoffPrefix, e.acct.AccountID, ur.u.UserName, id)
	arn, err := handoff.Store(ctx, e.Secrets, name, e.HandoffKMSKeyID,
		handoff.Value{AccessKeyID: id, SecretAccessKey: secret.New(aws.ToString(out.AccessKey.SecretAccessKey)), ZipPassword: ur.zipPassword()},
		handoff.Pending{UserName: ur.u.UserName, AccessKeyID: id, Replaces: a.Replaces, DeactivateOn: a.DeactivateOn, DeliverTo: ur.deliverTo})
	if err != nil {
		if delErr := ur.deleteKey(ctx, id); delErr != nil {
			return nil, fmt.Errorf("%w; the undeliverable key %s stays marked for deletion by a later run: %v", err, id, delErr)
		}
		return nil, errors.Join(fmt.Errorf("%w; the undeliverable key %s was deleted", err, id), ur.clearMark(ctx))
	}
	if err := ur.clearMark(ctx); err != nil {
		// The key is stored, so a later run keeps it (it has a secret) and clears the mark.
		e.Log.WarnContext(ctx, "pending mark left in place", "account", e.acct.AccountID, "user", ur.u.UserName, "error", err.Error())
	}
	return &workflow.NewKey{AccessKeyID: id, SecretARN: arn, ReplacesAccessKeyID: a.Replaces, DeactivateOn: a.DeactivateOn,
		Replaced: ur.usage(a.Replaces), DeliverTo: ur.deliverTo}, nil
}

// usage returns the last use of the user's key id as read, nil when the key is gone.
func (ur *userRun) usage(id string) *policy.Usage {
	i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id })
	if i < 0 {
		return nil
	}
	u := ur.u.Keys[i].Usage()
	return &u
}

func (ur *userRun) clearMark(ctx context.Context) error {
	if _, err := ur.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &ur.u.UserName, TagKeys: []string{history.PendingTag}}); err != nil {
		return fmt.Errorf("clear the pending mark of %s: %w", ur.u.UserName, err)
	}
	return nil
}

// refused reports whether IAM answered a CreateAccessKey with an error that proves no key
// was made (a client error: quota, no such user, bad input), as opposed to an unknown outcome.
func refused(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultClient && !workflow.IsRetryable(err)
}

// refusal says why the secret a waiting key goes to refuses it now (its opt-in was taken
// away since the key was made): the key is not sent to NotifyUser, which would refuse it on
// every run; it waits, within the bounded wait, and the report says why.
func (ur *userRun) refusal(ctx context.Context, p handoff.Pending) string {
	if p.DeliverTo == "" {
		return ""
	}
	var refused *appsecret.Refused
	if err := appsecret.Check(ctx, ur.AppSecrets, p.DeliverTo, ur.u.UserName); errors.As(err, &refused) {
		return fmt.Sprintf("%v: new key %s waits for it", err, p.AccessKeyID)
	}
	return "" // another error: NotifyUser checks again
}

// queue adds the user's notification: the plan's notices, and the new key or a key still
// waiting for delivery (sent again unless SES accepted it today). The address is the one the
// user's tags give now, validated. Beyond the run's notification budget, users without
// writes (notices, redeliveries) wait for the next run: a redelivery counts like any other
// notification, so that an SES outage cannot make the next run exceed the budget.
func (ur *userRun) queue(ctx context.Context, up policy.UserPlan, newKey *workflow.NewKey) {
	e := ur.execution
	if e.run.DryRun || up.Email == "" {
		return
	}
	notices := up.Notices
	redelivery := false
	if newKey == nil {
		for _, id := range slices.Sorted(maps.Keys(ur.pending)) {
			if p := ur.pending[id]; !history.SameDay(p.Sent, e.run.Now) {
				if refusal := ur.refusal(ctx, p); refusal != "" {
					ur.ur.EmailProblem = refusal
					continue
				}
				replaced := ur.usage(p.Replaces)
				newKey, redelivery = &workflow.NewKey{AccessKeyID: id, SecretARN: p.SecretARN, ReplacesAccessKeyID: p.Replaces, DeactivateOn: p.DeactivateOn,
					Replaced: replaced, DeliverTo: p.DeliverTo}, true
				// The new-key email is the old key's NewKeyIssued notice, remembered once
				// delivered, while that old key exists (this run may have deleted it).
				nk := policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: p.Replaces}
				if ur.exists(p.Replaces) && !slices.Contains(ur.u.NoticesSent, nk) {
					notices = append(slices.Clone(notices), policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: p.Replaces, ActBy: p.DeactivateOn,
						Message: policy.NewKeyIssuedMessage(p.Replaces, p.DeactivateOn), Usage: replaced})
				}
				break
			}
		}
	}
	if newKey == nil && len(up.Notices) == 0 {
		return
	}
	// Users with writes always notify: a user without may use the budget only beyond what
	// the users still to come may need for their writes.
	reserved := min(e.cfg.MaxUsers-e.writers, e.usersLeft)
	if len(up.Actions) == 0 && e.noticeBudget <= reserved {
		ur.ur.Status, ur.ur.Notices = policy.StatusDeferred, nil
		ur.ur.Reason = noticeLimitReached
		if redelivery {
			ur.ur.Reason = fmt.Sprintf("the redelivery of new key %s and its notices deferred to the next run: this run's notification limit is reached", newKey.AccessKeyID)
		}
		e.res.Counts.Deferred++
		return
	}
	if redelivery {
		e.Log.InfoContext(ctx, "redelivering pending key", "account", e.acct.AccountID, "user", ur.u.UserName, "accessKeyId", newKey.AccessKeyID)
	}
	e.noticeBudget--
	e.notifications = append(e.notifications, workflow.Notification{RunID: e.run.RunID, Account: e.acct,
		UserName: ur.u.UserName, Email: up.Email, Notices: notices, NewKey: newKey, SendRate: e.run.SendRate})
}
