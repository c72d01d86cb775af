package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

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
			confirmed, err = e.confirm(ctx, p, nil)
		}
		if unchecked := (*markUnchecked)(nil); errors.As(err, &unchecked) {
			// Restored rather than left to the end of its window: the user's run confirms it
			// after its orphan sweep.
			e.Log.WarnContext(ctx, "delivery left to the user's run", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", id, "error", err.Error())
			err = nil
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
// refuses, is the user's SecretProblem: no key is made, the report says why, and the owner,
// whose email stays usable, is told before the key due for rotation is deactivated.
func (ur *userRun) destination(ctx context.Context, email string) (string, error) {
	name, err := appsecret.Target(ur.u.Tags)
	switch {
	case err != nil:
		ur.u.SecretProblem = err.Error()
		return "", nil
	case name == "":
		return email, nil
	}
	ur.deliverTo = name
	// Nobody can read some destinations back (GitHub): their old keys wait for the new
	// keys' first use (rule 3).
	ur.u.AwaitsFirstUse = ur.dest(name).AwaitsFirstUse()
	if len(ur.pending) == 0 {
		var refused *appsecret.Refused
		switch err := ur.dest(name).Check(ctx, ur.u.UserName); {
		case errors.As(err, &refused):
			ur.u.SecretProblem = err.Error() + ": no new key is made for the user"
		case err != nil:
			return "", err
		}
	}
	return appsecret.TagValue(name), nil
}

// dest is the destination to in the account (handoff.Pending.DeliverTo): a secret, or an SSM
// parameter.
func (e *execution) dest(to string) appsecret.Destination {
	return appsecret.Clients{Secrets: e.AppSecrets, Params: e.AppParams, GitHub: e.GitHub, AccountID: e.acct.AccountID}.Open(to)
}

// confirm closes a delivery SES accepted on an earlier day: unless the owner's address
// bounced since, the key counts as delivered and its secret is deleted for good (also when
// NotifyUser scheduled its deletion: it goes now, not at the end of the recovery window). A
// bounced delivery stays pending: its key is sent again, and gives up after the bounded wait.
// Before the secret goes, the pending mark that covers its key, if one was left in place, is
// cleared (unmark); tags are the user's tags as read after its orphan sweep, nil when the
// user was not read (they are read then).
func (e *execution) confirm(ctx context.Context, p handoff.Pending, tags map[string]string) (bool, error) {
	if p.DeliverTo != "" {
		// A key written to its store is delivered, whatever became of the owner's notice and
		// whatever became of the store since: NotifyUser marks the key written (then sent)
		// only once its write took effect, and the application may have read it from then
		// on (a parameter its application deleted or wrote over before this run, which SSM
		// keeps no trace of, a secret scheduled for deletion, a store whose opt-in was
		// withdrawn). Its old key waits for the store's current value all the same
		// (unlessStoreBehind). Without that record (a write whose outcome was not recorded),
		// only the store's version of the key confirms.
		if p.Sent.IsZero() && p.Written.IsZero() {
			dest := e.dest(p.DeliverTo)
			state, err := dest.Find(ctx, p.AccessKeyID, p.Created)
			if err != nil || state != appsecret.Holds {
				return false, err
			}
			if dest.AwaitsFirstUse() {
				// GitHub tells when its secrets were last written, not by whom nor with what:
				// the application's own write since the key was made looks the same as
				// NotifyUser's. Only NotifyUser's record of its completed write confirms (or
				// the key's use, confirmedByUse); without it, the key is written again.
				return false, nil
			}
		}
	} else if why := e.unconfirmable(p); why != "" {
		// Silence from the suppression list proves nothing: the key waits.
		e.Log.WarnContext(ctx, "new key's email not confirmed", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID, "reason", why)
		return false, nil
	} else if e.Bounces != nil {
		bounced, _, err := e.Bounces.SuppressedSince(ctx, p.SentTo)
		if err != nil {
			return false, fmt.Errorf("check whether mail to the owner of %s bounced: %w", p.UserName, err)
		}
		if bounced {
			e.Log.WarnContext(ctx, "new key's email bounced", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID)
			return false, nil
		}
	}
	if err := e.unmark(ctx, p, tags); err != nil {
		return false, err
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

// unmark clears the user's pending mark if it covers the key of p, before p's secret is
// deleted: a mark left in place (its UntagUser failed after the key was stored) would make
// the delivered key, once without a secret and while unused, look like the orphan of an
// interrupted creation (invariant 12). A mark dated after the key's secret was stored is a
// later creation's and stays. The mark is read when tags is nil; failing to read or clear
// it is a *markUnchecked, and the secret stays.
func (e *execution) unmark(ctx context.Context, p handoff.Pending, tags map[string]string) error {
	if tags == nil {
		var err error
		if tags, err = e.userTags(ctx, p.UserName); err != nil {
			return &markUnchecked{fmt.Errorf("read the pending mark of %s before deleting the hand-off secret of key %s: %w", p.UserName, p.AccessKeyID, err)}
		}
		e.Seal.OpenTags(e.acct.AccountID, p.UserName, tags) // a mark it does not verify deletes nothing
	}
	mark, marked := tags[history.PendingTag]
	if !marked {
		return nil
	}
	if since, err := markTime(mark); err == nil && since.After(p.Created.Add(orphanSlack)) {
		return nil
	}
	if policy.Exempt(tags, e.cfg) {
		// No write to an exempt user: the secret stays until a run may clear the mark.
		return &markUnchecked{fmt.Errorf("the pending mark of %s, exempt now, covers key %s: its hand-off secret stays", p.UserName, p.AccessKeyID)}
	}
	if _, err := e.IAM.UntagUser(ctx, &iam.UntagUserInput{UserName: &p.UserName, TagKeys: []string{history.PendingTag}}); err != nil {
		return &markUnchecked{fmt.Errorf("clear the pending mark of %s before deleting the hand-off secret of key %s: %w", p.UserName, p.AccessKeyID, err)}
	}
	delete(tags, history.PendingTag)
	return nil
}

// markUnchecked is why a delivery is not confirmed yet: the pending mark that may cover its
// key could not be read or cleared, so its secret stays.
type markUnchecked struct{ err error }

func (m *markUnchecked) Error() string { return m.err.Error() }
func (m *markUnchecked) Unwrap() error { return m.err }

// userTags reads every tag of a user.
func (e *execution) userTags(ctx context.Context, userName string) (map[string]string, error) {
	tags := map[string]string{}
	pages := iam.NewListUserTagsPaginator(e.IAM, &iam.ListUserTagsInput{UserName: &userName})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return tags, nil
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

// writtenUnseen reports whether the key of p may be in its application's secret, where the
// rotator cannot see whether it is: NotifyUser began to write it there and recorded no
// outcome (Pending.Writing: the write may have taken effect), and the member role may no
// longer describe the secret (its opt-in withdrawn since), or the secret is one nobody can
// read back (GitHub: AwaitsFirstUse) that was written since the key was made, which the
// rotator's write would explain as well as the application's own (NotifyUser's
// recordRefusal cannot tell either). Such a key is not given up as undelivered at the end of
// the bounded wait, since the application may read it; nor is it confirmed, since it may
// not be there: it waits, stored, until the secret can be described again (for GitHub: its
// opt-in back, the key written again and recorded), its use confirms it, or rule 2 deletes
// it unused.
func (ur *userRun) writtenUnseen(ctx context.Context, p handoff.Pending) (bool, error) {
	if p.DeliverTo == "" || p.Writing.IsZero() {
		return false, nil
	}
	dest := ur.dest(p.DeliverTo)
	state, err := dest.Find(ctx, p.AccessKeyID, p.Created)
	return state == appsecret.Hidden || state == appsecret.Holds && dest.AwaitsFirstUse(), err
}

// dropUndeliverable deletes a new key that could not be delivered within the bounded wait,
// and its secret: nobody holds it, and the owner's address is given up.
func (ur *userRun) dropUndeliverable(ctx context.Context, p handoff.Pending, email, problem string) error {
	e := ur.execution
	if p.DeliverTo != "" {
		email = appsecret.TagValue(p.DeliverTo)
	}
	i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == p.AccessKeyID })
	if i >= 0 && ur.u.Keys[i].Status == policy.Inactive {
		// Somebody deactivated it: not deleted on the day it was first known inactive (the
		// next run deletes it); its secret stays with it until then.
		since, known := history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag))[p.AccessKeyID]
		if !known || history.SameDay(since.Since, e.run.Now) {
			return nil
		}
		if since.ByRotator && ur.deletionTold(p.AccessKeyID) {
			// Its owner was told the day it is deleted (a KeyDeactivated notice): rule 3
			// deletes it then, not earlier (invariant 8). The wait for its delivery ends as
			// for any other: the address is given up and its hand-off secret deleted; the key,
			// Inactive and held by nobody, stays until that day.
			if e.run.DryRun {
				return nil
			}
			if err := ur.giveUp(ctx, email); err != nil {
				return err
			}
			if err := handoff.Delete(ctx, e.Secrets, p.SecretARN); err != nil {
				return err
			}
			delete(ur.pending, p.AccessKeyID)
			return nil
		}
	}
	a := workflow.ActionResult{Action: policy.Action{Action: policy.DeleteKey, AccessKeyID: p.AccessKeyID, Reason: problem + ": delete the undelivered key"}}
	if !e.run.DryRun {
		if err := ur.giveUp(ctx, email); err != nil {
			return err
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

// deletionTold reports whether the owner may have been told the day Inactive key id is
// deleted: a KeyDeactivated notice about it on record, delivered or not known to be, or a
// record of notices someone overwrote (policy: deletionAnnounced).
func (ur *userRun) deletionTold(id string) bool {
	return ur.u.NoticesUnsure || slices.ContainsFunc(history.ParseNotices(ur.u.Tags.Get(history.NoticesTag)), func(s history.Sent) bool {
		return s.Kind == policy.KeyDeactivated && s.AccessKeyID == id
	})
}

// keepMayBeHeld ends the bounded wait of a new key sent by email that may have reached its
// owner although every send the rotator could watch bounced (handoff.Pending
// MaySendHaveArrived): the owner's address is given up (rule 6), as for any key whose
// delivery kept failing (DESIGN.md invariant 1 asks the address to go), but the key is not
// deleted as undeliverable, since its owner may hold it and use it. Nor is its hand-off
// secret deleted: a created key is never lost (DESIGN.md, security invariants), and the key
// stays pending redelivery, undelivered, so never a replacement. It waits, sent no more to the
// address given up, until it is used (confirmed: prepare), or sent to a new address the owner
// gives and confirmed there, or deleted unused by rule 2 with its secret, U days after its
// creation. The old key meanwhile goes by rule 6.
func (ur *userRun) keepMayBeHeld(ctx context.Context, p handoff.Pending, email string) error {
	e := ur.execution
	if e.run.DryRun || email == "" {
		return nil
	}
	if ur.u.Tags.Get(history.UndeliverableTag) != email {
		e.Log.WarnContext(ctx, "address given up, new key kept: a send while bounces were not suppressed may have reached its owner",
			"account", e.acct.AccountID, "user", p.UserName, "accessKeyId", p.AccessKeyID, "unwatchedRun", p.UnwatchedRun)
	}
	return ur.giveUp(ctx, email)
}

// giveUp records that the owner's address (or the application's store: its tag value) no
// longer counts (key-rotator:undeliverable), where the user's tags leave room for it. Where
// they do not, the end of the bounded wait goes on unrecorded, as IAM would refuse the tag:
// the address still counts, so the plan that follows needs the rotator's tags for anything it
// does to the old key, and the user's tags full fail the user with what a person must do and
// remind its owner (tagsFull).
func (ur *userRun) giveUp(ctx context.Context, email string) error {
	if email == "" {
		return nil
	}
	if !ur.roomFor(history.UndeliverableTag) {
		ur.execution.Log.WarnContext(ctx, "address given up unrecorded: the user's tags leave no room for the rotator's",
			"account", ur.execution.acct.AccountID, "user", ur.u.UserName, "tag", history.UndeliverableTag)
		return nil
	}
	return ur.setTags(ctx, map[string]string{history.UndeliverableTag: email})
}

// dropStale deletes the secret of a key that no longer exists, once the secret is old enough
// for IAM to have listed its key (a key created seconds ago may not be listed yet).
func (e *execution) dropStale(ctx context.Context, p handoff.Pending) error {
	if e.run.DryRun || e.now().Sub(p.Created) < cmp.Or(e.Settle, DefaultSettle) {
		return nil
	}
	return handoff.Delete(ctx, e.Secrets, p.SecretARN)
}

// failureNotice is the owner's DeliveryFailed notice about replaces, whose new key newKeyID
// goes to the secret ur.deliverTo names, and would be given up at the end of the bounded wait
// counted from deactivateOn, and not before tomorrow (a wait that ran out on a day already
// past, the key kept since, ends on the next run); reason, when known, opens its message.
// Nil when the owner was told already, or replaces no longer exists.
func (ur *userRun) failureNotice(newKeyID, replaces, deactivateOn, secretName, reason string) *policy.Notice {
	ref := policy.NoticeRef{Kind: policy.DeliveryFailed, AccessKeyID: replaces}
	usage := ur.usage(replaces)
	// Sent unconfirmed (by a run that could not see bounces), it is sent again only by a run
	// that can (unlessUnwatched).
	if usage == nil || !ur.exists(replaces) || slices.Contains(ur.u.NoticesSent, ref) ||
		ur.bounceProblem() != "" && slices.Contains(ur.u.NoticesUnconfirmed, ref) {
		return nil
	}
	due, err := time.Parse(time.DateOnly, deactivateOn)
	if err != nil {
		due = ur.run.Now
	}
	giveUp := policy.ActOn(due.AddDate(0, 0, ur.cfg.NoticePeriod), ur.run.Now).Format(time.DateOnly)
	msg := fmt.Sprintf("Your application keeps using %s meanwhile; the rotator tries again on every run, and if new key %s is not in %s by %s, "+
		"%s is deleted and %s deactivated on that day.", replaces, newKeyID, appsecret.Describe(secretName), giveUp, newKeyID, replaces)
	if reason != "" {
		msg = reason + ". " + msg
	}
	return &policy.Notice{Kind: policy.DeliveryFailed, AccessKeyID: replaces, ActBy: giveUp, Message: msg, Usage: usage}
}

// refusal says why the secret a waiting key goes to refuses it now (its opt-in was taken
// away since the key was made): the key is not sent to NotifyUser, which would refuse it on
// every run; it waits, within the bounded wait, and the report says why.
func (ur *userRun) refusal(ctx context.Context, p handoff.Pending) string {
	if p.DeliverTo == "" {
		return ""
	}
	var refused *appsecret.Refused
	if err := ur.dest(p.DeliverTo).Check(ctx, ur.u.UserName); errors.As(err, &refused) {
		return fmt.Sprintf("%v: new key %s waits for it", err, p.AccessKeyID)
	}
	return "" // another error: NotifyUser checks again
}
