package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// userRun is one user's read, plan and writes.
type userRun struct {
	*execution
	u       policy.User
	ur      workflow.UserResult
	pending map[string]handoff.Pending // the user's unconfirmed deliveries, by key ID
	// inactive is the deactivated tag's content as it must be written (nil: unchanged).
	inactive map[string]history.Inactive
	// deliverTo is the secret or parameter a new key of the user goes to (pkg/appsecret
	// Clients.Open); "": by email.
	deliverTo string
	// unconfirmed says why deliveries of the user's keys by email could not be confirmed
	// (bounces not suppressed), for the report.
	unconfirmed []string
	// untrusted are the user's rotator tags whose MAC did not verify, as read (history.Seal):
	// taken as absent, and replaced whenever the rotator writes that tag.
	untrusted map[string]string
	// unheard: the plan waits for warnings because nothing sent to the owner counts
	// (policy.User.Unheard): the user is listed in the report, with the day and the reason.
	unheard bool
	// replaced holds the keys whose replacement this run created: what the history says of
	// their failed deliveries is over (the new key's notice gives the day they go). A
	// delivery confirmed is not enough: the DeliveryFailed notice gave the day, which holds
	// unless a NewKeyIssued notice delivered since gave another (history.Superseded).
	replaced map[string]bool
	// provenByUse are the notices whose email reached the owner, the key it came with used
	// since (confirmedByUse): delivered, whatever SES's suppression list shows.
	provenByUse []policy.NoticeRef
	// use is what the user's keys are used for, as read (pkg/advice): its advice goes with
	// every notification to the owner.
	use advice.Use
	// placed is the hold this run placed on the user (nil: none); heldKey the key its owner is
	// told is active under it, holdNote what the run did or could not do about it.
	placed   *hold.Hold
	heldKey  string
	holdNote string
}

// givenUp records why delivery (to the application's secret, or else to the owner's address)
// is given up: an address is no longer usable (rule 6); a secret takes no new key, but the
// owner's address still is (policy.User.SecretProblem).
func (ur *userRun) givenUp(toSecret bool, problem string) {
	if toSecret {
		ur.u.SecretProblem = problem
		return
	}
	ur.u.DeliveryProblem = problem
}

// replacedNotice reports whether n is a DeliveryFailed notice about a key whose replacement
// this run created or found delivered.
func (ur *userRun) replacedNotice(n policy.NoticeRef) bool {
	return n.Kind == policy.DeliveryFailed && ur.replaced[n.AccessKeyID]
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
	ur := &userRun{execution: e, u: u, ur: workflow.UserResult{UserName: name}, pending: map[string]handoff.Pending{}, replaced: map[string]bool{},
		untrusted: e.Seal.OpenTags(e.acct.AccountID, name, u.Tags), use: e.judgeRead(u)}
	for _, key := range slices.Sorted(maps.Keys(ur.untrusted)) {
		e.Log.WarnContext(ctx, "rotator tag not signed by the rotator: taken as absent", "account", e.acct.AccountID, "user", name, "tag", key)
	}
	_, ur.u.NoticesUnsure = ur.untrusted[history.NoticesTag]
	if policy.Exempt(u.Tags, e.cfg) {
		// Rule 1 comes first: no write of any kind, whatever other tags the user carries.
		e.res.Counts.Exempt++
		e.res.Users = append(e.res.Users, workflow.UserResult{UserName: name, Status: policy.StatusExempt,
			Reason: policy.ExemptReason(u.Tags, e.cfg), OldestKeyAgeDays: policy.PlanUser(u, e.cfg, e.run.Now).OldestKeyAgeDays})
		return
	}
	if err := ur.applyHold(ctx); err != nil {
		e.fail(ctx, ur.ur, err)
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

// prepare brings the user to a state the policy can decide on: the orphans of an interrupted
// creation deleted, confirmed deliveries closed, stale secrets dropped, and the history read.
func (ur *userRun) prepare(ctx context.Context) error {
	e := ur.execution
	keyIDs := map[string]bool{}
	created := map[string]time.Time{}
	used := map[string]bool{}
	for _, k := range ur.u.Keys {
		keyIDs[k.AccessKeyID], created[k.AccessKeyID], used[k.AccessKeyID] = true, k.CreateDate, k.LastUsedDate != nil
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
		case used[id] && !e.run.DryRun && !p.Scheduled && !history.SameDay(p.Sent, e.run.Now) && (p.DeliverTo == "" || !history.SameDay(p.Created, e.run.Now)):
			// A new key that was used reached its owner, whatever SES's suppression list
			// shows or could show (a send while bounces were not suppressed, say), or its
			// application, whatever the rotator can see of the secret since (its opt-in
			// withdrawn, so DescribeSecret is denied; the secret rewritten or deleted) and
			// whatever NotifyUser recorded (a write whose response or record was lost): it is
			// delivered, never deleted as undeliverable at the end of the bounded wait. The old
			// key still waits while the secret's current value is not the new key
			// (unlessStoreBehind), and a DeliveryFailed day once told holds (the notice is not
			// dropped as replaced). As in confirm, a pending mark left over the key goes before
			// its hand-off secret does, and not on the day it was sent (a same-day re-run writes
			// nothing).
			if err := e.unmark(ctx, p, ur.u.Tags); err != nil {
				return err
			}
			if err := handoff.Delete(ctx, e.Secrets, p.SecretARN); err != nil {
				return err
			}
			e.Log.InfoContext(ctx, "delivery confirmed by the key's use", "account", e.acct.AccountID, "user", p.UserName, "accessKeyId", id)
			delete(ur.pending, id)
		case ur.confirmable(p, created[id]) && !e.run.DryRun:
			confirmed, err := e.confirm(ctx, p, ur.u.Tags)
			if err != nil {
				return err
			}
			if confirmed {
				delete(ur.pending, id)
			}
		}
		if _, waiting := ur.pending[id]; waiting && ur.confirmable(p, created[id]) {
			if why := e.unconfirmable(p); why != "" {
				ur.unconfirmed = append(ur.unconfirmed, why)
			}
		}
	}
	email, _ := policy.OwnerEmail(ur.u.Tags, e.cfg)
	dest, err := ur.destination(ctx, email)
	if err != nil {
		return err
	}
	if given := ur.u.Tags.Get(history.UndeliverableTag); given != "" && strings.EqualFold(given, dest) {
		ur.givenUp(ur.deliverTo != "", fmt.Sprintf("delivery to %s was given up (tag %s): set a new address in the email tag, or a new %s, to resume rotation",
			given, history.UndeliverableTag, appsecret.DeliveryTag))
	}
	for _, id := range slices.Sorted(maps.Keys(ur.pending)) {
		if p := ur.pending[id]; e.unconfirmable(p) != "" || history.SameDay(p.Sent, e.run.Now) {
			// The wait ends only after a send whose bounce the rotator could see, on a later
			// day: a key sent while bounces were not suppressed may well have arrived.
			continue
		}
		if problem := ur.deliveryGivenUp(ur.pending[id]); problem != "" {
			unseen, err := ur.writtenUnseen(ctx, ur.pending[id])
			if err != nil {
				return err
			}
			if unseen {
				why := fmt.Sprintf("which the rotator may no longer describe (its tag key %s removed?)", appsecret.OptInTag)
				if ur.dest(ur.pending[id].DeliverTo).AwaitsFirstUse() {
					why = "written since the key was made, by NotifyUser's write that recorded no outcome or by another (nobody can read it back)"
				}
				ur.unconfirmed = append(ur.unconfirmed, fmt.Sprintf("new key %s may be in %s, %s: it is not deleted as undelivered while its application may read it",
					id, appsecret.Describe(ur.pending[id].DeliverTo), why))
				continue
			}
			if p := ur.pending[id]; p.MaySendHaveArrived() && slices.ContainsFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id && k.Status == policy.Active }) {
				if email != "" && !p.Sent.IsZero() && !strings.EqualFold(p.SentTo, email) {
					// The owner gave a new address since the key's last send: the key is sent
					// there (queue), and that address is given up only once that send bounced.
					continue
				}
				problem += fmt.Sprintf("; new key %s stays, waiting with its hand-off secret: run %s gave it to NotifyUser while SES did not suppress bounces, so its owner may hold it; "+
					"it is confirmed once used or sent to a new address that does not bounce, and deleted by rule 2 if it stays unused", id, p.UnwatchedRun)
				ur.givenUp(false, problem)
				if err := ur.keepMayBeHeld(ctx, p, email); err != nil {
					return err
				}
				continue
			}
			ur.givenUp(ur.pending[id].DeliverTo != "", problem)
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
	newly := history.Apply(&ur.u, e.run.Now, email)
	ur.confirmedByUse(email)
	// A DeliveryFailed notice about a key whose replacement this run created is over.
	ur.u.NoticesSent = slices.DeleteFunc(ur.u.NoticesSent, ur.replacedNotice)
	ur.u.NoticesSentToday = slices.DeleteFunc(ur.u.NoticesSentToday, ur.replacedNotice)
	if len(newly) > 0 {
		ur.inactive = history.ParseDeactivated(ur.u.Tags.Get(history.DeactivatedTag))
		// Without a record the rotator signed, an Inactive key may be one it deactivated: its
		// deletion waits for a KeyDeactivated notice too (a forged record only postpones).
		_, unsure := ur.untrusted[history.DeactivatedTag]
		for _, id := range newly {
			ur.inactive[id] = history.Inactive{Since: e.run.Now, ByRotator: unsure, Unsure: unsure}
		}
		for i, k := range ur.u.Keys {
			if unsure && slices.Contains(newly, k.AccessKeyID) {
				ur.u.Keys[i].DeactivatedByRotator = true
			}
		}
	}
	return nil
}

// confirmedByUse counts as delivered a NewKeyIssued notice sent unconfirmed (by a run that
// could not see bounces) when the new key it came with by email has been used since: that key
// was in no other mail, so the email reached its owner. A key that goes to an application's
// secret proves nothing of the owner's mailbox.
func (ur *userRun) confirmedByUse(email string) {
	if ur.deliverTo != "" || len(ur.u.NoticesUnconfirmed) == 0 {
		return
	}
	for _, s := range history.ParseNotices(ur.u.Tags.Get(history.NoticesTag)) {
		if !s.Unconfirmed || s.Kind != policy.NewKeyIssued || s.To != history.AddressDigest(email) || !slices.Contains(ur.u.NoticesUnconfirmed, s.NoticeRef) {
			continue
		}
		sentBy := s.On.Truncate(24*time.Hour).AddDate(0, 0, 1)
		if !slices.ContainsFunc(ur.u.Keys, func(k policy.Key) bool {
			return k.AccessKeyID != s.AccessKeyID && !k.Undelivered && k.CreateDate.Before(sentBy) && k.LastUsedDate != nil && !k.LastUsedDate.Before(k.CreateDate)
		}) {
			continue
		}
		ur.u.NoticesUnconfirmed = slices.DeleteFunc(ur.u.NoticesUnconfirmed, func(r policy.NoticeRef) bool { return r == s.NoticeRef })
		ur.u.NoticesSent = append(ur.u.NoticesSent, s.NoticeRef)
		ur.provenByUse = append(ur.provenByUse, s.NoticeRef)
		if history.SameDay(s.On, ur.run.Now) {
			ur.u.NoticesSentToday = append(ur.u.NoticesSentToday, s.NoticeRef)
		}
	}
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
	if up, err = ur.unlessStoreBehind(ctx, up); err != nil {
		e.fail(ctx, ur.ur, err)
		return
	}
	if up, err = ur.unlessBounced(ctx, up); err != nil {
		e.fail(ctx, ur.ur, err)
		return
	}
	up.Notices = ur.unlessUnwatched(up.Notices)
	if len(up.Actions) > 0 {
		if e.writers >= e.cfg.MaxUsers {
			policy.Defer(&up, e.maxUsersReached())
		} else {
			e.writers++
		}
	}
	if n := ur.holdPlacedNotice(ctx, up); n != nil {
		up.Notices = append(up.Notices, *n)
	}
	ur.ur.Status, ur.ur.Reason, ur.ur.EmailProblem, ur.ur.Notices, ur.ur.Keys = up.Status, up.Reason, up.EmailProblem, up.Notices, up.Keys
	if h, ok := ur.holds[ur.u.UserName]; ok {
		ur.ur.Hold = strings.TrimSuffix(fmt.Sprintf("held until %s (%s), placed by execution %s; %s", h.Until, h.Reason, h.PlacedBy, ur.holdNote), "; ")
	}
	ur.ur.RotationDaysProblem, ur.ur.OldestKeyAgeDays, ur.ur.Held = up.RotationDaysProblem, up.OldestKeyAgeDays, up.Held
	if why := strings.Join(ur.unconfirmed, "; "); why != "" {
		ur.ur.Reason = strings.TrimPrefix(ur.ur.Reason+"; "+why, "; ")
	}
	if ur.ur.EmailProblem == "" {
		ur.ur.EmailProblem = ur.u.SecretProblem // the key's delivery, not the owner's address
	}
	c := &e.res.Counts
	switch {
	case up.Status == policy.StatusDeferred:
		c.Deferred++
	case up.EmailProblem != "":
		c.NoUsableEmail++
	}
	if short, adds := ur.tagsShort(up); short > 0 && !e.run.DryRun && up.Status != policy.StatusDeferred {
		ur.tagsFull(ctx, up, short, adds)
		return
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
	case up.Status != policy.StatusOK || ur.ur.EmailProblem != "" || up.RotationDaysProblem != "" || len(ur.ur.Actions) > 0 || len(ur.unconfirmed) > 0 || ur.unheard ||
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
	if !destructive || up.Email == "" || len(ur.u.NoticesSent) == 0 || e.Bounces == nil && e.bounceProblem() == "" {
		return up, nil
	}
	// A run that cannot see bounces (Run.BouncesSuppressed) cannot tell a delivered notice
	// from one that bounced: none counts (but those proven delivered), and the action waits
	// for the bounded wait.
	var listed time.Time // when the address was put on the suppression list (zero: unknown)
	unheard := e.bounceProblem()
	if unheard == "" {
		bounced, since, err := e.Bounces.SuppressedSince(ctx, up.Email)
		if err != nil || !bounced {
			return up, err
		}
		listed = since
		unheard = fmt.Sprintf("the owner's address %s is on SES's suppression list (mail to it bounced) and nothing the rotator sends reaches it", up.Email)
	}
	u := ur.u
	// Not counted as delivered, they may still have been read: a day they gave holds. What
	// was sent is not sent again to the bouncing address (nor on every re-run), and the
	// report gives the day the action waits for, and why (policy.User.Unheard).
	u.NoticesSent, u.NoticesSentToday, u.NoticesUnconfirmed = nil, nil, slices.Clone(ur.u.NoticesUnconfirmed)
	for _, ref := range ur.u.NoticesSent {
		if !ur.arrived(ref, listed) {
			u.NoticesUnconfirmed = append(u.NoticesUnconfirmed, ref)
			continue
		}
		u.NoticesSent = append(u.NoticesSent, ref)
		if slices.Contains(ur.u.NoticesSentToday, ref) {
			u.NoticesSentToday = append(u.NoticesSentToday, ref)
		}
	}
	if len(u.NoticesSent) == len(ur.u.NoticesSent) {
		return up, nil // every notice the plan rests on reached the owner before the bounce
	}
	u.Unheard, ur.unheard = unheard, true
	plan, err := policy.PlanUsers([]policy.User{u}, e.cfg, e.run.Now)
	if err != nil {
		return up, fmt.Errorf("plan: %w", err)
	}
	replanned := plan.Users[0]
	if e.bounceProblem() != "" {
		// The owner may well have the day first told: no other deactivation day is announced
		// for a key already announced (a run that sees bounces may keep that day); the action
		// waits. What the replan does (a deactivation's KeyDeactivated) is still said.
		replanned.Notices = slices.DeleteFunc(replanned.Notices, func(n policy.Notice) bool {
			return n.Kind == policy.DeactivationScheduled &&
				slices.ContainsFunc(ur.u.NoticesSent, func(r policy.NoticeRef) bool { return r.AccessKeyID == n.AccessKeyID })
		})
	}
	return replanned, nil
}

// arrived reports whether the notice ref, delivered as far as the rotator saw when it counted
// it, reached the owner although the address is on SES's suppression list since listed (zero:
// unknown, or a run that cannot see bounces): its email was proven to arrive (confirmedByUse),
// or it was sent on a day before the day before the address was listed. The rotator takes an
// email as delivered once the address is off the list on a later day than the send (the
// delivery of a key is confirmed so): had this one bounced, SES would have listed the address
// then, not a whole day later. The bounce is of a later email, which takes back no warning
// delivered before it; and every run of a day counts such a warning alike, also a re-run that
// is the first to see the bounce of an earlier run's email of the day (campaign seed 63, day
// 12: a TagsFull reminder of a user whose deactivation waited for room in its tags bounced, and
// the day's third run announced the deactivation anew).
func (ur *userRun) arrived(ref policy.NoticeRef, listed time.Time) bool {
	if slices.Contains(ur.provenByUse, ref) {
		return true
	}
	if listed.IsZero() {
		return false
	}
	email, _ := policy.OwnerEmail(ur.u.Tags, ur.cfg)
	for _, s := range history.ParseNotices(ur.u.Tags.Get(history.NoticesTag)) {
		if s.NoticeRef == ref && !s.Unconfirmed && s.To == history.AddressDigest(email) && !s.On.IsZero() &&
			s.On.UTC().Truncate(24*time.Hour).AddDate(0, 0, 2).Compare(listed.UTC().Truncate(24*time.Hour)) <= 0 {
			return true
		}
	}
	return false
}

// unlessUnwatched drops, in a run that cannot see bounces, the notices the owner was already
// sent unconfirmed (policy.User.NoticesUnconfirmed: by a run that could not see bounces
// either), which it could not confirm any better, and a DeactivationScheduled notice about a
// key whose day such a notice already gave: the owner may well have that day, and the action
// waits for a run that sees bounces, which warns again (rule 5 counts only notices it could
// confirm).
func (ur *userRun) unlessUnwatched(notices []policy.Notice) []policy.Notice {
	if ur.execution.bounceProblem() == "" || len(ur.u.NoticesUnconfirmed) == 0 {
		return notices
	}
	told := func(n policy.Notice) bool {
		return slices.Contains(ur.u.NoticesUnconfirmed, n.Ref()) || n.Kind == policy.DeactivationScheduled &&
			slices.ContainsFunc(ur.u.NoticesUnconfirmed, func(r policy.NoticeRef) bool {
				return r.AccessKeyID == n.AccessKeyID && (r.Kind == policy.NewKeyIssued || r.Kind == policy.DeactivationScheduled)
			})
	}
	if !slices.ContainsFunc(notices, told) {
		return notices
	}
	return slices.DeleteFunc(slices.Clone(notices), told)
}

// unlessStoreBehind re-plans a user whose plan deactivates a key whose successor should be in
// the application's secret, or announces that key's deactivation day (DeactivationScheduled),
// when that secret's current value is not the successor (someone wrote the secret over, or
// deleted it, or the owner made the successor and never put it there; pkg/appsecret
// Current): the application may still read the old key, which then waits
// (policy.Key.StoreBehind), and its owner is told why and the day it goes, also in place of
// the announcement, whose day the key would not keep (DESIGN.md invariant 8).
func (ur *userRun) unlessStoreBehind(ctx context.Context, up policy.UserPlan) (policy.UserPlan, error) {
	if ur.deliverTo == "" {
		return up, nil
	}
	var checked []string
	for _, n := range up.Notices {
		if n.Kind == policy.DeactivationScheduled {
			checked = append(checked, n.AccessKeyID)
		}
	}
	for _, a := range up.Actions {
		if a.Action == policy.DeactivateKey {
			checked = append(checked, a.AccessKeyID)
		}
	}
	behind := false
	for _, id := range checked {
		i := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == id })
		if i < 0 || ur.u.Keys[i].Status != policy.Active || ur.u.Keys[i].StoreBehind != "" {
			continue
		}
		succ := ur.successor(ur.u.Keys[i])
		if succ == "" {
			continue
		}
		why, changed, err := ur.dest(ur.deliverTo).Current(ctx, ur.u.UserName, succ)
		if err != nil {
			return up, err
		}
		j := slices.IndexFunc(ur.u.Keys, func(k policy.Key) bool { return k.AccessKeyID == succ })
		if why != "" && policy.ReadsSuccessor(ur.u.Keys[i], ur.u.Keys[j], changed) {
			// Written again since, with the successor: the keys' use shows the application
			// reads it.
			ur.Log.InfoContext(ctx, "secret written since, and its application uses the new key", "account", ur.acct.AccountID, "user", ur.u.UserName,
				"accessKeyId", ur.u.Keys[i].AccessKeyID, "newAccessKeyId", succ, "destination", appsecret.TagValue(ur.deliverTo))
			continue
		}
		if why != "" {
			ur.u.Keys[i].StoreBehind, behind = why, true
		}
	}
	if !behind {
		return up, nil
	}
	plan, err := policy.PlanUsers([]policy.User{ur.u}, ur.cfg, ur.run.Now)
	if err != nil {
		return up, fmt.Errorf("plan: %w", err)
	}
	return plan.Users[0], nil
}

// successor is the newest Active key of the user created after k, delivered: the key the
// application should read once k is deactivated; "" when there is none.
func (ur *userRun) successor(k policy.Key) string {
	id, created := "", k.CreateDate
	for _, o := range ur.u.Keys {
		if o.Status == policy.Active && !o.Undelivered && o.CreateDate.After(created) {
			id, created = o.AccessKeyID, o.CreateDate
		}
	}
	return id
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
