package rotate

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

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
	bound := "" // the date the bounded wait counts from: the new key's first, on a redelivery
	if newKey == nil {
		for _, id := range slices.Sorted(maps.Keys(ur.pending)) {
			if p := ur.pending[id]; !history.SameDay(p.Sent, e.run.Now) && !history.SameDay(p.Refused, e.run.Now) && !history.SameDay(p.Written, e.run.Now) && !history.SameDay(p.Writing, e.run.Now) {
				if refusal := ur.refusal(ctx, p); refusal != "" {
					ur.ur.EmailProblem = refusal
					// Not sent to NotifyUser, which would be refused: the owner is told why here.
					if n := ur.failureNotice(id, p.Replaces, p.DeactivateOn, p.DeliverTo, refusal); n != nil {
						notices = append(slices.Clone(notices), *n)
					}
					continue
				}
				if p.DeliverTo == "" && !p.Sent.IsZero() && e.bounceProblem() != "" {
					// Sent before, and a new send could not be confirmed either: the key waits
					// for a run that sees bounces, which sends it again.
					continue
				}
				replaced := ur.usage(p.Replaces)
				// The old key goes on its day, under the limit the owner has now, and not before
				// the first run after the owner got the new key: a redelivery days later names
				// that day, never one already past nor one the rules no longer keep (invariant
				// 8). The bounded wait still counts from p.DeactivateOn.
				on := policy.AnnouncedDay(ur.replacedKeysDay(up, p), e.run.Now)
				bound = p.DeactivateOn
				newKey, redelivery = &workflow.NewKey{AccessKeyID: id, SecretARN: p.SecretARN, ReplacesAccessKeyID: p.Replaces, DeactivateOn: on,
					Replaced: replaced, DeliverTo: p.DeliverTo}, true
				// The new-key email is the old key's NewKeyIssued notice, remembered once
				// delivered, while that old key exists (this run may have deleted it).
				nk := policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: p.Replaces}
				if ur.exists(p.Replaces) && !slices.Contains(ur.u.NoticesSent, nk) {
					notices = append(slices.Clone(notices), policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: p.Replaces, ActBy: on,
						Message: policy.NewKeyIssuedMessage(p.Replaces, on), Usage: replaced})
				}
				break
			}
		}
	}
	if newKey == nil && len(notices) == 0 {
		return
	}
	if newKey != nil && newKey.DeliverTo != "" {
		// The day it gives is the end of the bounded wait, which counts from the new key's
		// first date, not from the day a redelivery announces (a later one, once that first
		// date is past): the old key would not wait for it.
		newKey.FailureNotice = ur.failureNotice(newKey.AccessKeyID, newKey.ReplacesAccessKeyID, cmp.Or(bound, newKey.DeactivateOn), newKey.DeliverTo, "")
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
	if redelivery && newKey.DeliverTo == "" && e.bounceProblem() != "" {
		// This run's send of the key can never be confirmed: say so on its secret first. A
		// new key's secret says so from its creation (createKey).
		if err := handoff.MarkUnwatched(ctx, e.Secrets, newKey.SecretARN, e.run.RunID); err != nil {
			e.Log.WarnContext(ctx, "redelivery left to a later run", "account", e.acct.AccountID, "user", ur.u.UserName, "accessKeyId", newKey.AccessKeyID, "error", err.Error())
			if newKey, redelivery = nil, false; len(up.Notices) == 0 {
				return
			}
			notices = up.Notices
		}
	}
	if redelivery {
		e.Log.InfoContext(ctx, "redelivering pending key", "account", e.acct.AccountID, "user", ur.u.UserName, "accessKeyId", newKey.AccessKeyID)
	}
	e.noticeBudget--
	e.notifications = append(e.notifications, workflow.Notification{RunID: e.run.RunID, Account: e.acct,
		UserName: ur.u.UserName, Email: up.Email, Notices: notices, NewKey: newKey, SendRate: e.run.SendRate,
		Unconfirmed: e.bounceProblem() != "", Use: ur.use})
}

// replacedKeysDay is the day a redelivery of p's key gives for the key it replaces
// (YYYY-MM-DD): the day stored when the key was made, or, when the owner lengthened their limit
// since (RotationDays), the later day the rules now give: that key's date under the limit the
// user has now.
func (ur *userRun) replacedKeysDay(up policy.UserPlan, p handoff.Pending) string {
	th := ur.cfg.Timeline()
	if up.Timeline != nil {
		th = *up.Timeline
	}
	i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == p.Replaces })
	if i < 0 {
		return p.DeactivateOn
	}
	if now := ur.u.Keys[i].CreateDate.AddDate(0, 0, th.DeactivateAt).UTC().Format(time.DateOnly); now > p.DeactivateOn {
		return now
	}
	return p.DeactivateOn
}
