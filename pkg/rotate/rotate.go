// Package rotate carries out the policy in one member account: it scans, plans, and makes
// the writes in a crash-safe order, keeps the owners' notice history on their IAM users, and
// returns what NotifyUser must send. A created key is always delivered, pending redelivery
// (its hand-off secret exists), or deleted as an orphan.
package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/scan"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// The tags the rotator keeps on IAM users.
const (
	// NoticesTag lists the notices already sent for the user's current keys, as
	// "KEYID:KIND" pairs separated by spaces (rule 5: once per key and kind).
	NoticesTag = "key-rotator:notices"
	// PendingTag marks an intended CreateAccessKey (its value is the intent's time, RFC 3339)
	// until the new key is stored for delivery: a run that finds the mark deletes any key
	// created since then that has no hand-off secret.
	PendingTag = "key-rotator:pending"
	// DeactivatedTag remembers the day the rotator deactivated each of the user's keys, as
	// "KEYID:YYYY-MM-DD" pairs separated by spaces: IAM does not keep it, and the policy
	// deletes no key on the day it was deactivated, so that a re-run that day changes nothing.
	DeactivatedTag = "key-rotator:deactivated"
)

// orphanSlack allows for clock skew between the mark's time and IAM's CreateDate.
const orphanSlack = time.Minute

// IAMAPI is the part of IAM the rotator uses in a member account.
type IAMAPI interface {
	scan.IAMAPI
	CreateAccessKey(context.Context, *iam.CreateAccessKeyInput, ...func(*iam.Options)) (*iam.CreateAccessKeyOutput, error)
	UpdateAccessKey(context.Context, *iam.UpdateAccessKeyInput, ...func(*iam.Options)) (*iam.UpdateAccessKeyOutput, error)
	DeleteAccessKey(context.Context, *iam.DeleteAccessKeyInput, ...func(*iam.Options)) (*iam.DeleteAccessKeyOutput, error)
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
	UntagUser(context.Context, *iam.UntagUserInput, ...func(*iam.Options)) (*iam.UntagUserOutput, error)
}

// Rotator processes one account.
type Rotator struct {
	IAM     IAMAPI
	Secrets handoff.SecretsAPI
	Scanner *scan.Scanner
	Policy  policy.Config
	// HandoffPrefix and HandoffKMSKeyID place and encrypt the hand-off secrets.
	HandoffPrefix   string
	HandoffKMSKeyID string
	// MaxNotifications bounds the notifications of one account's run (0: 550), so that they
	// fit one child execution. Users with writes (at most maxUsers) and redeliveries always
	// notify; users who would only get a notice wait for the next run beyond the bound.
	MaxNotifications int
	Log              *slog.Logger
}

// DefaultMaxNotifications fits one account's notifications into a Distributed Map child
// execution's 25,000 history events (43 events each at worst, statemachine's history test).
const DefaultMaxNotifications = 550

// Process runs the policy in one account. An error means the account could not be scanned
// (nothing was written); failures of single users are recorded in their results instead, so
// that one user never stops the others.
func (r *Rotator) Process(ctx context.Context, run workflow.Run, acct workflow.Account) (workflow.AccountResult, []workflow.Notification, error) {
	res := workflow.AccountResult{Run: run, Account: acct, Status: workflow.AccountDone, Users: []workflow.UserResult{}}
	cfg := r.Policy
	cfg.Cleanup = run.Cleanup
	pending, err := handoff.List(ctx, r.Secrets, r.HandoffPrefix, acct.AccountID)
	if err != nil {
		return res, nil, err
	}
	found, err := r.Scanner.Candidates(ctx, cfg, run.Now)
	if err != nil {
		return res, nil, fmt.Errorf("scan account %s: %w", acct.AccountID, err)
	}
	res.Counts.Users = found.Users
	names := found.Candidates
	for _, p := range pending {
		if !slices.Contains(names, p.UserName) {
			names = append(names, p.UserName)
		}
	}
	r.Log.InfoContext(ctx, "scanned account", "account", acct.AccountID, "users", found.Users,
		"candidates", len(names), "source", found.Source, "pendingDeliveries", len(pending))

	e := &execution{Rotator: r, run: run, acct: acct, pending: pending, res: &res}
	var users []policy.User
	for _, name := range names {
		u, err := r.Scanner.User(ctx, name)
		var gone *types.NoSuchEntityException
		switch {
		case errors.As(err, &gone):
			r.Log.InfoContext(ctx, "user deleted since the scan", "account", acct.AccountID, "user", name)
			continue
		case err != nil:
			e.fail(ctx, workflow.UserResult{UserName: name}, err)
			continue
		}
		u.NoticesSent = parseNotices(u.Tags[NoticesTag])
		deactivated := parseDeactivated(u.Tags[DeactivatedTag])
		for i, k := range u.Keys {
			if day, ok := deactivated[k.AccessKeyID]; ok {
				u.Keys[i].DeactivatedDate = &day
			}
		}
		if ok := e.clearOrphans(ctx, &u); ok {
			users = append(users, u)
		}
	}
	plan, err := policy.PlanUsers(users, cfg, run.Now)
	if err != nil {
		return res, nil, fmt.Errorf("plan account %s: %w", acct.AccountID, err)
	}
	limit := cmp.Or(r.MaxNotifications, DefaultMaxNotifications)
	e.noticeBudget = limit - len(pending)
	for _, up := range plan.Users {
		if len(up.Actions) > 0 {
			e.noticeBudget--
		}
	}
	for i, up := range plan.Users {
		e.apply(ctx, users[i], up)
	}
	e.redeliver(ctx)
	return res, e.notifications, nil
}

// execution is the state of one account's run.
type execution struct {
	*Rotator
	run           workflow.Run
	acct          workflow.Account
	pending       map[string]handoff.Pending
	res           *workflow.AccountResult
	notifications []workflow.Notification
	// noticeBudget is how many notice-only users may still be notified in this run.
	noticeBudget int
}

func (e *execution) fail(ctx context.Context, ur workflow.UserResult, err error) {
	ur.Error = err.Error()
	e.res.Counts.Failures++
	e.res.Users = append(e.res.Users, ur)
	e.Log.ErrorContext(ctx, "user failed", "account", e.acct.AccountID, "user", ur.UserName, "error", err.Error())
}

// clearOrphans deletes the keys an interrupted CreateAccessKey left behind: created since the
// user's pending mark and without a hand-off secret. It reports false when the user must be
// left for the next run (the clean-up itself failed).
func (e *execution) clearOrphans(ctx context.Context, u *policy.User) bool {
	mark, marked := u.Tags[PendingTag]
	if !marked {
		return true
	}
	ur := workflow.UserResult{UserName: u.UserName, Status: policy.StatusDelete}
	since, err := time.Parse(time.RFC3339, mark)
	if err != nil {
		since = time.Time{} // an unreadable mark: every key without a secret is suspect
	}
	var kept []policy.Key
	for _, k := range u.Keys {
		if _, stored := e.pending[k.AccessKeyID]; stored || k.CreateDate.Before(since.Add(-orphanSlack)) {
			kept = append(kept, k)
			continue
		}
		a := workflow.ActionResult{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: k.AccessKeyID, Reason: fmt.Sprintf(
			"key %s was created at %s by a run that was interrupted before storing it for delivery: delete the orphan",
			k.AccessKeyID, k.CreateDate.Format(time.RFC3339))}}
		if !e.run.DryRun {
			if _, err := e.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &u.UserName, AccessKeyId: aws.String(k.AccessKeyID)}); err != nil {
				e.fail(ctx, ur, fmt.Errorf("delete orphan key %s of %s: %w", k.AccessKeyID, u.UserName, err))
				return false
			}
			a.Done = true
		}
		ur.Actions = append(ur.Actions, a)
		countAction(&e.res.Counts, policy.DeleteKey)
	}
	if !e.run.DryRun {
		if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &u.UserName, TagKeys: []string{PendingTag}}); err != nil {
			e.fail(ctx, ur, fmt.Errorf("clear the pending mark of %s: %w", u.UserName, err))
			return false
		}
	}
	u.Keys = kept
	delete(u.Tags, PendingTag)
	if len(ur.Actions) > 0 {
		e.res.Users = append(e.res.Users, ur)
	}
	return true
}

// apply carries out one user's plan in order (deletes, deactivations, then the new key),
// stopping at the first failure, then records the notices and queues the notification. In a
// dry run nothing is written and the counts say what would happen.
func (e *execution) apply(ctx context.Context, u policy.User, up policy.UserPlan) {
	ur := workflow.UserResult{UserName: up.UserName, Status: up.Status, Reason: up.Reason, EmailProblem: up.EmailProblem, Notices: up.Notices}
	c := &e.res.Counts
	switch {
	case up.Status == policy.StatusExempt:
		c.Exempt++
	case up.Status == policy.StatusDeferred:
		c.Deferred++
	case up.EmailProblem != "":
		c.NoUsableEmail++
	}
	var newKey *workflow.NewKey
	var err error
	for _, a := range up.Actions {
		ar := workflow.ActionResult{Action: a}
		if !e.run.DryRun {
			if newKey, err = e.write(ctx, u, up, a); err != nil {
				err = fmt.Errorf("%s %s for %s: %w", a.Action, a.AccessKeyID, u.UserName, err)
				ur.Actions = append(ur.Actions, ar)
				break
			}
			ar.Done = true
		}
		if newKey != nil {
			ar.NewAccessKeyID = newKey.AccessKeyID
		}
		ur.Actions = append(ur.Actions, ar)
		countAction(c, a.Action)
		e.Log.InfoContext(ctx, "key action", "account", e.acct.AccountID, "user", u.UserName, "action", a.Action, "accessKeyId", a.AccessKeyID,
			"newAccessKeyId", ar.NewAccessKeyID, "dryRun", e.run.DryRun, "reason", a.Reason)
	}
	notify := err == nil && up.Email != "" && (len(up.Notices) > 0 || newKey != nil)
	if notify && len(up.Actions) == 0 {
		if e.noticeBudget <= 0 {
			notify = false
			ur.Status, ur.Notices = policy.StatusDeferred, nil
			ur.Reason = "notices deferred to the next run: this run's notification limit is reached"
			c.Deferred++
		}
		e.noticeBudget--
	}
	if !e.run.DryRun {
		if histErr := e.recordHistory(ctx, u, ur.Actions, up.Notices, notify); err == nil {
			err = histErr
		}
		if notify {
			e.notifications = append(e.notifications, workflow.Notification{RunID: e.run.RunID, Account: e.acct,
				UserName: u.UserName, Email: up.Email, Notices: up.Notices, NewKey: newKey})
		}
	}
	if err == nil {
		c.Notices += len(ur.Notices) // the policy plans notices only for owners with a usable email
	}
	switch {
	case err != nil:
		e.fail(ctx, ur, err)
	case up.Status != policy.StatusOK || up.EmailProblem != "":
		e.res.Users = append(e.res.Users, ur)
	}
}

// write makes one planned IAM write; a CreateKey returns the new key.
func (e *execution) write(ctx context.Context, u policy.User, up policy.UserPlan, a policy.Action) (*workflow.NewKey, error) {
	var err error
	switch a.Action {
	case policy.DeleteKey:
		_, err = e.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &u.UserName, AccessKeyId: aws.String(a.AccessKeyID)})
	case policy.DeactivateKey:
		_, err = e.IAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &u.UserName, AccessKeyId: aws.String(a.AccessKeyID), Status: types.StatusTypeInactive})
	case policy.CreateKey:
		return e.createKey(ctx, u, up)
	}
	return nil, err
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

// createKey marks the intent, creates the key, stores it for delivery and clears the mark.
// If the key was created but could not be stored, it is deleted at once; if even that fails,
// the mark stays and the next run deletes the orphan.
func (e *execution) createKey(ctx context.Context, u policy.User, up policy.UserPlan) (*workflow.NewKey, error) {
	mark := time.Now().UTC().Format(time.RFC3339)
	if _, err := e.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &u.UserName, Tags: []types.Tag{{Key: aws.String(PendingTag), Value: &mark}}}); err != nil {
		return nil, fmt.Errorf("mark the new key's intent: %w", err)
	}
	out, err := e.IAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &u.UserName})
	if err != nil {
		return nil, fmt.Errorf("create access key: %w", err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	replaced := newKeyNotice(up)
	name := handoff.Name(e.HandoffPrefix, e.acct.AccountID, u.UserName, id)
	arn, err := handoff.Store(ctx, e.Secrets, name, e.HandoffKMSKeyID,
		handoff.Value{AccessKeyID: id, SecretAccessKey: secret.New(aws.ToString(out.AccessKey.SecretAccessKey))},
		handoff.Pending{UserName: u.UserName, AccessKeyID: id, Replaces: replaced.AccessKeyID, DeactivateOn: replaced.ActBy, Email: up.Email})
	if err != nil {
		if _, delErr := e.IAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &u.UserName, AccessKeyId: &id}); delErr != nil {
			return nil, fmt.Errorf("%w; the undeliverable key %s stays marked for deletion by the next run: %v", err, id, delErr)
		}
		_, _ = e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &u.UserName, TagKeys: []string{PendingTag}})
		return nil, fmt.Errorf("%w; the undeliverable key %s was deleted", err, id)
	}
	if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &u.UserName, TagKeys: []string{PendingTag}}); err != nil {
		// The key is stored, so the next run keeps it (it has a secret) and clears the mark.
		e.Log.WarnContext(ctx, "pending mark left in place", "account", e.acct.AccountID, "user", u.UserName, "error", err.Error())
	}
	return &workflow.NewKey{AccessKeyID: id, SecretARN: arn, ReplacesAccessKeyID: replaced.AccessKeyID, DeactivateOn: replaced.ActBy}, nil
}

// newKeyNotice is the plan's NewKeyIssued notice (the policy plans one with every CreateKey).
func newKeyNotice(up policy.UserPlan) policy.Notice {
	for _, n := range up.Notices {
		if n.Kind == policy.NewKeyIssued {
			return n
		}
	}
	return policy.Notice{}
}

// recordHistory updates what the user's tags remember for the keys that remain: the day
// the rotator deactivated each, and (when notify) the notices now sent. Nothing is written
// when nothing changed.
func (e *execution) recordHistory(ctx context.Context, u policy.User, done []workflow.ActionResult, notices []policy.Notice, notify bool) error {
	remaining := map[string]bool{}
	for _, k := range u.Keys {
		remaining[k.AccessKeyID] = true
	}
	deactivated := map[string]time.Time{}
	for _, k := range u.Keys {
		if k.DeactivatedDate != nil {
			deactivated[k.AccessKeyID] = *k.DeactivatedDate
		}
	}
	for _, a := range done {
		switch {
		case !a.Done:
		case a.Action.Action == policy.DeleteKey:
			delete(remaining, a.AccessKeyID)
			delete(deactivated, a.AccessKeyID)
		case a.Action.Action == policy.DeactivateKey:
			deactivated[a.AccessKeyID] = e.run.Now
		}
	}
	refs := slices.Clone(u.NoticesSent)
	if notify {
		for _, n := range notices {
			refs = append(refs, n.Ref())
		}
	}
	refs = slices.DeleteFunc(refs, func(r policy.NoticeRef) bool { return !remaining[r.AccessKeyID] })

	var set []types.Tag
	var unset []string
	for key, value := range map[string]string{NoticesTag: formatNotices(refs), DeactivatedTag: formatDeactivated(deactivated)} {
		switch current, present := u.Tags[key]; {
		case value == "" && present:
			unset = append(unset, key)
		case value != "" && value != current:
			set = append(set, types.Tag{Key: aws.String(key), Value: aws.String(value)})
		}
	}
	if len(set) > 0 {
		if _, err := e.IAM.TagUser(ctx, &iam.TagUserInput{UserName: &u.UserName, Tags: set}); err != nil {
			return fmt.Errorf("record the key history of %s: %w", u.UserName, err)
		}
	}
	if len(unset) > 0 {
		if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &u.UserName, TagKeys: unset}); err != nil {
			return fmt.Errorf("clear the key history of %s: %w", u.UserName, err)
		}
	}
	return nil
}

// redeliver queues the keys still waiting in hand-off secrets from earlier runs, and deletes
// the secrets of keys that no longer exist.
func (e *execution) redeliver(ctx context.Context) {
	if e.run.DryRun {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(e.pending)) {
		p := e.pending[id]
		exists, err := e.keyExists(ctx, p.UserName, id)
		switch {
		case err != nil:
			e.fail(ctx, workflow.UserResult{UserName: p.UserName}, err)
		case !exists:
			if err := handoff.Delete(ctx, e.Secrets, p.SecretARN); err != nil {
				e.fail(ctx, workflow.UserResult{UserName: p.UserName}, err)
			}
		default:
			notice := policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: p.Replaces, ActBy: p.DeactivateOn,
				Message: policy.NewKeyIssuedMessage(p.Replaces, p.DeactivateOn)}
			e.notifications = append(e.notifications, workflow.Notification{RunID: e.run.RunID, Account: e.acct,
				UserName: p.UserName, Email: p.Email, Notices: []policy.Notice{notice},
				NewKey: &workflow.NewKey{AccessKeyID: id, SecretARN: p.SecretARN, ReplacesAccessKeyID: p.Replaces, DeactivateOn: p.DeactivateOn}})
			e.Log.InfoContext(ctx, "redelivering pending key", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", id)
		}
	}
}

func (e *execution) keyExists(ctx context.Context, userName, id string) (bool, error) {
	out, err := e.IAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &userName})
	if err != nil {
		var gone *types.NoSuchEntityException
		if errors.As(err, &gone) {
			return false, nil
		}
		return false, fmt.Errorf("check pending key %s of %s: %w", id, userName, err)
	}
	return slices.ContainsFunc(out.AccessKeyMetadata, func(m types.AccessKeyMetadata) bool { return aws.ToString(m.AccessKeyId) == id }), nil
}
