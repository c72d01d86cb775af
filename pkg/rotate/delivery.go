package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/suppression"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

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
	} else if why := e.unconfirmable(p); why != "" {
		// Silence from the suppression list proves nothing: the key waits.
		e.Log.WarnContext(ctx, "new key's email not confirmed", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID, "reason", why)
		return false, nil
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

// bounceProblem says why this run cannot learn of bounces from SES's suppression list
// (Run.BouncesSuppressed, checked once per run by ListAccounts), "" when it can.
func (e *execution) bounceProblem() string {
	if e.run.BouncesSuppressed {
		return ""
	}
	return cmp.Or(e.run.BounceProblem, suppression.NotChecked)
}

// unconfirmable says why a key sent by email cannot be confirmed from the suppression list
// by this run, "" when it can: bounces are not suppressed now, or were not when the key was
// last sent (that send's bounce left no trace; the key is sent again once they are).
func (e *execution) unconfirmable(p handoff.Pending) string {
	if p.DeliverTo != "" {
		return ""
	}
	if problem := e.bounceProblem(); problem != "" {
		return fmt.Sprintf("the delivery of new key %s by email is not confirmed: %s", p.AccessKeyID, problem)
	}
	if p.SentUnwatched() {
		return fmt.Sprintf("new key %s was sent by run %s, when SES did not suppress bounces: that send cannot be confirmed, the key is sent again",
			p.AccessKeyID, p.SentRun)
	}
	return ""
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
