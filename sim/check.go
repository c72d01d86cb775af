package sim

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// checkWrite checks one IAM write of the rotator against the invariants, before it takes
// effect.
func (s *sim) checkWrite(c awsmodel.Call) {
	user, keyID := c.Target()
	if in, ok := c.Input.(*iam.UpdateAccessKeyInput); ok && in.Status != types.StatusTypeInactive {
		s.violate("the rotator only deactivates", "UpdateAccessKey to "+string(in.Status))
	}
	o := s.owners[c.Account+"/"+user]
	if o == nil {
		return
	}
	tags := s.tags(o)
	if policy.Exempt(tags, s.policy) {
		s.violate("exempt users get zero writes", fmt.Sprintf("%s %s of exempt user %s", c.Operation, keyID, user))
	}
	if in, ok := c.Input.(*iam.TagUserInput); ok {
		s.checkSigned(o, in)
	}
	if c.Operation == "CreateAccessKey" {
		s.told.createdOn[c.Account+"/"+user] = s.day // a deletion before its day may have made room
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
	s.checkToldDay(c, o, k)
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
		if s.unused(k, tags) {
			// Rule 2: a key unused for unused-at days goes, whoever holds it. Checked first:
			// s.marks keeps the rotator's last mark while its UntagUser failed (and forgets it
			// once one succeeds), so a key created under a lingering mark and never used looks
			// like its orphan; rule 2's deletion of such a key, delivered and never used in U
			// days (an application that wrote its old value back), is not the orphan rule's.
			// The orphan rule cannot delete a key unused for U days that rule 2 would not
			// delete in the same run.
			return
		}
		// A key the owner holds and may use is not deleted. The orphan rule deletes Active
		// keys, never used, created within rotate.OrphanWindow of the rotator's last pending
		// mark: one of those that the rotator made and delivered is a key somebody received
		// (invariant 12), whatever befell its mark or its secret.
		mark, marked := s.marks[c.Account+"/"+user]
		orphanLike := marked && k.Status == types.StatusTypeActive && k.LastUsed == nil &&
			!k.Created.Before(mark.Add(-time.Minute)) && !k.Created.After(mark.Add(rotate.OrphanWindow))
		_, rotators := s.rotatorKeys[keyID]
		switch {
		case orphanLike && o.held[keyID] && rotators:
			s.violate("the only keys the orphan rule deletes are keys nobody ever received",
				fmt.Sprintf("%s's key %s, delivered, never used, created at %s under the mark of %s; its story:\n    %s",
					user, keyID, k.Created.Format(time.RFC3339), mark.Format(time.RFC3339), strings.Join(s.trace[keyID], "\n    ")))
		case orphanLike && o.held[keyID]:
			// The one allowance, for a key the OWNER created (not the rotator): made within
			// rotate.OrphanWindow after a CreateAccessKey of the rotator whose outcome was
			// unknown, and not used by the next run. IAM keeps no creator for a key, and the
			// user had one free slot, which either creation may have taken: the owner's key and
			// the rotator's orphan look the same in every field IAM returns, so the rotator
			// cannot keep the one without leaving the other active and unknown (the security
			// invariant "a created key is never lost"). Counted; docs/policy.md says so.
			s.res.Faults["owner-key-made-within-an-unknown-creation-window"]++
		case k.Status == types.StatusTypeActive && o.held[keyID]:
			s.violate("no active key in use is deleted", fmt.Sprintf("%s's active key %s (created %s, last used %v); its story:\n    %s", user, keyID, k.Created.Format(time.DateOnly), k.LastUsed,
				strings.Join(s.trace[keyID], "\n    ")))
		}
	}
	if k.Status == types.StatusTypeActive {
		s.checkToldBefore(c, o, k, keys, tags)
	}
	if k.Status != types.StatusTypeActive || !s.deliverable(o) || s.givenUp(o) {
		return
	}
	if o.held[keyID] && !slices.ContainsFunc(keys, func(other awsmodel.Key) bool {
		return other.AccessKeyID != keyID && other.Status == types.StatusTypeActive && o.held[other.AccessKeyID]
	}) {
		s.violate("an owner with a usable email keeps an active key they received",
			fmt.Sprintf("%s %s of %s leaves the owner no active key they hold (keys %v); its story:\n    %s", c.Operation, keyID, user, keyIDs(keys), strings.Join(s.trace[keyID], "\n    ")))
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

// checkSigned: every rotator tag the rotator writes is signed, and carries nothing it read
// from a tag someone else wrote (a forged rotator tag is taken as absent: it can postpone an
// action, never hasten one).
func (s *sim) checkSigned(o *owner, in *iam.TagUserInput) {
	for _, t := range in.Tags {
		key := aws.ToString(t.Key)
		if !strings.HasPrefix(key, config.RotatorTagKeyPrefix) {
			continue
		}
		value, signed := s.seal.Open(o.account, o.user, key, aws.ToString(t.Value))
		if !signed {
			s.violate("the rotator signs its tags", fmt.Sprintf("%s's tag %s=%q", o.user, key, aws.ToString(t.Value)))
			continue
		}
		for _, entry := range strings.Fields(value) {
			if s.forged[o.account+"/"+o.user][entry] {
				s.violate("a forged rotator tag is taken as absent", fmt.Sprintf("%s's %s written with %q, which someone else forged; its story:\n    %s",
					o.user, key, entry, strings.Join(s.trace[o.account+"/"+o.user], "\n    ")))
			}
		}
	}
}

// checkToldBefore checks the rotator's deactivation or deletion of Active key k of o (rule 2's
// unused keys aside) against DESIGN.md's invariants 9 and 10:
//   - 9: an owner with a usable email (not given up) is told on an earlier day (a warning
//     giving the date: NewKeyIssued, DeactivationScheduled or DeliveryFailed, whatever the
//     delivery channel), or the bounded wait is over (noticePeriod days past k's date).
//     Allowance, for the lead to review: the bounded wait counts from the key's date also
//     when no warning was ever sent (the owner was exempt, had no usable email, the user
//     failed every run, or the key was a legacy one, when that date passed: rule 3 then
//     deactivates it at once, policy warnedOrGivenUp). A check that the wait began with a
//     warning sent (a mail to SES, bounced or not) flags exactly those; whether a key must
//     then be warned first is invariant 8's (every date told is the day the rotator acts);
//   - 10: a key whose successor the rotator wrote to its application's secret goes only while
//     that secret's current value is the successor; when it is not (the application wrote
//     it over, deleted it), only at the bounded wait's end once the owner was told
//     (noticePeriod days past k's date), or noticePeriod days later still.
//
// A machine user's application that reads k loses it: that too needs the owner told first
// (or the bounded wait over), whether or not the secret opts in now.
func (s *sim) checkToldBefore(c awsmodel.Call, o *owner, k awsmodel.Key, keys []awsmodel.Key, tags map[string]string) {
	due := s.deactivationDue(k, keys, tags)
	day, told := s.warnedOn[k.AccessKeyID]
	told = told && day < s.day
	story := func() string { return strings.Join(s.trace[k.AccessKeyID], "\n    ") }
	app, _ := s.appReads(o)
	if sec, ok := s.w.SecretIn(o.account, o.app); o.app != "" && c.Operation == "UpdateAccessKey" {
		for succ, replaced := range s.rotatorKeys {
			current := ok && sec.DeletedDate == nil && app.AccessKeyID == succ
			if replaced != k.AccessKeyID || !s.writtenTo[succ] || current || s.pastGrace(due) && told || s.pastGraceBy(due, 2) {
				continue
			}
			s.violate("a key delivered to a store is deactivated only while the store's current value is its successor",
				fmt.Sprintf("%s's key %s deactivated on day %d: %s (scheduled for deletion: %v) holds %s, not its successor %s; the owner told on an earlier day: %v; its story:\n    %s",
					o.user, k.AccessKeyID, s.day, o.app, ok && sec.DeletedDate != nil, app.AccessKeyID, succ, told, story()))
		}
	}
	if s.address(o) == "" || s.addressGivenUp(o) || told || s.pastGrace(due) {
		return // the bounded wait (see above)
	}
	if c.Operation == "UpdateAccessKey" || o.app != "" && app.AccessKeyID == k.AccessKeyID {
		s.violate("an owner with a usable email is told before any deactivation",
			fmt.Sprintf("%s %s of %s (due %s; its application reads it: %v; keys %v; tags %v) without a warning delivered on an earlier day; its story:\n    %s",
				c.Operation, k.AccessKeyID, o.user, due, o.app != "" && app.AccessKeyID == k.AccessKeyID, keyIDs(keys), tags, story()))
	}
}

// addressGivenUp reports whether the rotator may have given up the owner's address (not a
// machine user's secret: its owner's address stays usable): the undeliverable tag names
// it, or a new key's email delivery failed noticePeriod days past the old key's date.
func (s *sim) addressGivenUp(o *owner) bool {
	// Only the rotator's own record counts: a forged one gives nothing up.
	if given, _ := s.seal.Open(o.account, o.user, history.UndeliverableTag, s.tags(o).Get(history.UndeliverableTag)); given != "" && strings.EqualFold(given, s.address(o)) {
		return true
	}
	return o.app == "" && s.givenUp(o)
}

// deactivatedByRotator reports whether the rotator deactivated key id (checkWrite checked it).
func (s *sim) deactivatedByRotator(id string) bool {
	return slices.ContainsFunc(s.trace[id], func(event string) bool { return strings.HasSuffix(event, "rotator deactivates") })
}

// pastGraceBy reports whether n noticePeriods passed since due.
func (s *sim) pastGraceBy(due string, n int) bool {
	t, err := time.Parse(time.DateOnly, due)
	return err == nil && !s.now.Before(t.AddDate(0, 0, n*s.policy.NoticePeriod))
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
	// Only the rotator's own record counts: a forged one gives nothing up.
	given, _ := s.seal.Open(o.account, o.user, history.UndeliverableTag, s.tags(o).Get(history.UndeliverableTag))
	if given != "" && (strings.EqualFold(given, s.address(o)) || given == appsecret.Scheme+o.app) {
		return true
	}
	for _, sec := range s.w.SecretsList() {
		if sec.Tags[handoff.UserTag] == o.user && strings.Contains(sec.Name, "/"+o.account+"/") && s.pastGrace(sec.Tags[handoff.DeactivateOnTag]) {
			return true
		}
	}
	return false
}

// checkKeysAccounted: every Active key the rotator created is held by its owner, waiting in
// its hand-off secret (scheduled for deletion or not: a run lists it, and can restore it), or
// covered by a pending mark the rotator signed (an orphan the next run deletes): never left
// active unknown.
func (s *sim) checkKeysAccounted() {
	stored := map[string]bool{}
	for _, sec := range s.w.SecretsList() {
		if m := secretKeyID.FindStringSubmatch(sec.Name); m != nil {
			stored[m[1]] = true
		}
	}
	for _, o := range s.sortedOwners() {
		// Only the rotator's own mark counts: one someone else wrote makes the rotator delete nothing.
		_, marked := s.seal.Open(o.account, o.user, history.PendingTag, s.tags(o).Get(history.PendingTag))
		for _, k := range s.w.Keys(o.account, o.user) {
			if _, made := s.rotatorKeys[k.AccessKeyID]; made && k.Status == types.StatusTypeActive && !o.held[k.AccessKeyID] && !stored[k.AccessKeyID] && !marked {
				s.violate("a created key is never lost", fmt.Sprintf("%s's key %s is neither delivered, nor stored, nor marked; its story:\n    %s",
					o.user, k.AccessKeyID, strings.Join(append(s.trace[k.AccessKeyID], s.trace[o.account+"/"+o.user]...), "\n    ")))
			}
		}
	}
}

// checkBoundedWait: the wait for a new key's delivery is bounded (DESIGN.md invariant 1): a
// fault-free run that reaches a user whose new key is still undelivered N days (the notice
// period) past its old key's date deletes it (unless a send of it may have reached its owner
// unseen: keptAfterAnUnwatchedSend) and gives the address up (rule 6). So after a
// day's fault-free re-run no live hand-off secret of a non-exempt user is older than that
// end, with a day's slack (a new key its owner deactivated is deleted by the next run, never
// on the day it was first seen Inactive). A user who fails every run instead (issue 19, item
// 4: a withdrawn opt-in answering DescribeSecret with AccessDenied) would hold its old key
// past the limit and its undelivered key forever.
func (s *sim) checkBoundedWait(clean bool) {
	if !clean {
		return
	}
	for _, sec := range s.w.SecretsList() {
		m := secretKeyID.FindStringSubmatch(sec.Name)
		if m == nil || sec.DeletedDate != nil {
			continue
		}
		o := s.keyOwner[m[1]]
		due, err := time.Parse(time.DateOnly, sec.Tags[handoff.DeactivateOnTag])
		if o == nil || err != nil || policy.Exempt(s.tags(o), s.policy) || s.now.Before(due.AddDate(0, 0, s.policy.NoticePeriod+1)) {
			continue
		}
		if o.app == "" && (s.bouncesOff || s.day <= s.bouncesOffLast+2) {
			// A key sent by email while the runs cannot see bounces waits for a run that can
			// (a wait that ran out then would give the key up on no evidence): that run sends
			// it again, and the next confirms it. Not silent: every run that cannot see
			// bounces says so in its report and an SNS alert. Counted.
			s.res.Faults["delivery-waits-while-bounces-unsuppressed"]++
			continue
		}
		if s.writeMayBeHidden(o, sec, m[1]) {
			// NotifyUser began to write the key to the application's secret and recorded no
			// outcome (the hand-off secret's sent tag 'writing': a PutSecretValue answered 5xx
			// past the SDK's retries, or a crash after the record), and the member role may no
			// longer describe that secret (its opt-in tag key removed since: AWS answers
			// AccessDenied). The key may be what the application reads, and nothing the rotator
			// may call tells whether it is: deleting it at the wait's end may take the key the
			// application uses (irreversibly, untold), and deleting its hand-off secret while
			// keeping it would leave a created key that nobody may hold. It waits, stored and
			// reported, until the secret can be described again (held: confirmed; not: given
			// up) or rule 2 deletes it unused with its hand-off secret (U days): that bound is
			// checked, a key idle U days and still waiting is a violation. Counted, allowed
			// (seed 1 day 24 of the 20-seed campaign on integrate dd6b17f: a PutSecretValue
			// answered 5xx, the opt-in withdrawn before NotifyUser's retry).
			s.res.Faults["delivery-waits-for-a-write-to-a-secret-the-rotator-cannot-describe"]++
			continue
		}
		if s.keptAfterAnUnwatchedSend(o, sec, m[1]) {
			// A run that could not see bounces (SES not suppressing BOUNCE for the rotator's
			// mail) gave the key to NotifyUser, and a later send that bounced says nothing of
			// that one: the key may have reached its owner, who may use it any day (a slow
			// consumer). At the wait's end the rotator gives the address up (rule 6: the old key
			// goes, the limit is not extended) but keeps the key: deleting it may take a key its
			// owner holds ("no active key in use is deleted"; campaign seed 134 day 21 on main
			// db9fd29), and deleting only its hand-off secret would leave a created key nobody
			// may be holding active and untracked (the 20-seed campaign with that variant: 8
			// violations, the 5 shown "a created key is never lost", seeds 2, 5, 7, 8 and 15).
			// So it waits, stored, until used
			// (confirmed), sent to a new address, or deleted by rule 2 with its secret, U days
			// after its creation: that bound is checked, a key idle U days and still waiting is
			// a violation, and so is one kept while the address it bounced at is not given up.
			// Counted, allowed.
			s.res.Faults["undelivered-key-kept-past-the-wait-after-an-unwatched-send"]++
			continue
		}
		if s.firstFoundInactiveToday(o, m[1]) {
			// The day of slack above, counted from the day the rotator could first see the key
			// Inactive rather than from the wait's end: someone deactivated it while no run of
			// the rotator completed in the account (runs failing under faults), and today's
			// fault-free re-run is the first to find it so. IAM does not say since when a key is
			// Inactive, and no key is deleted on the day it was deactivated (DESIGN.md invariant
			// 2, checked in checkWrite): the rotator gave the address up today and deletes the
			// key with its hand-off secret on the next run. Counted, allowed (seeds 37 and 85 of
			// make faults on a696beb); a key recorded Inactive on an earlier day is a violation.
			s.res.Faults["undelivered-key-first-found-inactive-past-the-wait"]++
			continue
		}
		s.violate("the wait for a new key's delivery is bounded", fmt.Sprintf("%s's new key %s still waits in %s on %s after a fault-free run, %d days past its old key's date %s (the wait: %d days; the rotator's last result: %s); its story:\n    %s",
			o.user, m[1], sec.Name, s.now.Format(time.DateOnly), int(s.now.Sub(due).Hours()/24), due.Format(time.DateOnly), s.policy.NoticePeriod, s.lastResult(o), strings.Join(s.trace[m[1]], "\n    ")))
	}
}

// writeMayBeHidden reports whether o's undelivered key id, waiting in hand-off secret sec,
// may be in its application's secret where the rotator cannot look: NotifyUser's record of
// the write is 'writing' (begun, no outcome), the member role may not describe the secret
// (it is gone, or lacks the opt-in tag key: awsmodel.MemberSecretsIn), and the key, never
// used, is not yet idle for rule 2's U days (under the user's own limit).
func (s *sim) writeMayBeHidden(o *owner, sec awsmodel.Secret, id string) bool {
	if o.app == "" || !strings.HasSuffix(sec.Tags[config.HandoffSentTag], " writing") {
		return false
	}
	if app, ok := s.w.SecretIn(o.account, o.app); ok {
		if _, optIn := app.Tags[config.AppSecretOptInTag]; optIn {
			return false
		}
	}
	i := slices.IndexFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool { return k.AccessKeyID == id })
	if i < 0 {
		return false
	}
	k := s.w.Keys(o.account, o.user)[i]
	return k.LastUsed == nil && !s.unused(k, s.tags(o))
}

// keptAfterAnUnwatchedSend reports whether o's undelivered key id, waiting in hand-off secret
// sec past the bounded wait, is one the rotator keeps because a send of it may have reached
// its owner unseen: sent by email, its secret tagged by a run that could not see bounces
// (handoff.UnwatchedRunTag), the owner's address given up by the rotator (its signed
// undeliverable tag) or none usable, and the key Active, never used, and not yet idle for
// rule 2's U days (under the user's own limit).
func (s *sim) keptAfterAnUnwatchedSend(o *owner, sec awsmodel.Secret, id string) bool {
	if o.app != "" || sec.Tags[handoff.UnwatchedRunTag] == "" {
		return false
	}
	given, _ := s.seal.Open(o.account, o.user, history.UndeliverableTag, s.tags(o).Get(history.UndeliverableTag))
	if addr := s.address(o); addr != "" && !strings.EqualFold(given, addr) {
		return false
	}
	i := slices.IndexFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool { return k.AccessKeyID == id })
	if i < 0 {
		return false
	}
	k := s.w.Keys(o.account, o.user)[i]
	return k.Status == types.StatusTypeActive && k.LastUsed == nil && !s.unused(k, s.tags(o))
}

// firstFoundInactiveToday reports whether o's key id is Inactive and the rotator's own record
// of it (the deactivated tag, as the rotator signed it) dates from today: the day the rotator
// first found it Inactive.
func (s *sim) firstFoundInactiveToday(o *owner, id string) bool {
	if s.active(o, id) || !slices.ContainsFunc(s.w.Keys(o.account, o.user), func(k awsmodel.Key) bool { return k.AccessKeyID == id }) {
		return false
	}
	value, signed := s.seal.Open(o.account, o.user, history.DeactivatedTag, s.tags(o).Get(history.DeactivatedTag))
	since, ok := history.ParseDeactivated(value)[id]
	return signed && ok && history.SameDay(since.Since, s.now)
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
		case s.rotatorKeys[app.AccessKeyID] == "" && s.keyOwner[app.AccessKeyID] == nil, s.deactivatedByRotator(app.AccessKeyID) && !s.active(o, app.AccessKeyID):
			// the original value (the application team's, under the ordinary rules), or a key
			// the rotator deactivated: its deactivation was checked then (checkToldBefore: the
			// owner told first, invariants 9 and 10)
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
	s.res.Violations = append(s.res.Violations, Violation{Seed: s.cfg.Seed, FaultSeed: s.cfg.FaultSeed, Day: s.day, Invariant: invariant, Detail: detail, Recent: s.w.Recent()})
}

func keyIDs(keys []awsmodel.Key) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.AccessKeyID+"/"+string(k.Status))
	}
	return out
}

// checkTagRoom: the rotator writes a tag of its own only where the user's tags leave room for
// it (IAM allows 50): a user without is told and left alone, never failed by IAM's quota day
// after day. (Owners here add tags only before the run: none races the rotator's read.)
func (s *sim) checkTagRoom(c awsmodel.Call, err error) {
	var apiErr smithy.APIError
	if _, tagging := c.Input.(*iam.TagUserInput); tagging && errors.As(err, &apiErr) && apiErr.ErrorCode() == "LimitExceeded" {
		user, _ := c.Target()
		s.violate("the rotator writes its tags only where there is room", fmt.Sprintf("TagUser of %s in %s refused: %v", user, c.Account, err))
	}
}
