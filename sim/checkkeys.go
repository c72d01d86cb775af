package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// keyChecks keep the invariants of what the rotator's IAM writes do to keys: it only
// deactivates (never reactivates), writes nothing to an exempt user, deletes no key on the day
// it was deactivated, no active key in use and, as an orphan, no key somebody received; an
// owner with a usable email keeps an active key they received.
type keyChecks struct{ *sim }

// status: the rotator only deactivates, but for the key an operator's hold placed by the
// day's execution makes active again: one the rotator deactivated, Inactive (pkg/hold).
func (s keyChecks) status(c awsmodel.Call) {
	in, ok := c.Input.(*iam.UpdateAccessKeyInput)
	if !ok || in.Status == types.StatusTypeInactive {
		return
	}
	user, keyID := c.Target()
	if o := s.owners[c.Account+"/"+user]; o != nil && s.reactivationHeld(o, keyID) {
		return
	}
	s.violate("the rotator only deactivates, but the key a hold placed today makes active again",
		fmt.Sprintf("UpdateAccessKey of %s's key %s to %s; its story:\n    %s", user, keyID, in.Status, strings.Join(s.trace[keyID], "\n    ")))
}

// held: while an operator's hold holds, the rotator neither deactivates nor deletes a key of
// its user, but by rule 2 (a key unused for unused-at days).
func (s keyChecks) held(c awsmodel.Call, o *owner, k awsmodel.Key, tags map[string]string) {
	in, deactivates := c.Input.(*iam.UpdateAccessKeyInput)
	deactivates = deactivates && in.Status == types.StatusTypeInactive
	if !deactivates && c.Operation != "DeleteAccessKey" {
		return
	}
	h, held := s.heldOn(o)
	switch {
	case !held:
		return
	case !deactivates && s.unused(k, tags):
		return // rule 2: a hold never postpones it
	case !deactivates && !o.held[k.AccessKeyID] && k.Status == types.StatusTypeActive && k.LastUsed == nil:
		// Allowed (counted), for the lead: a key nobody received (an orphan of a creation
		// whose outcome was unknown, or a new key whose delivery was given up, never used) is
		// deleted under a hold too. The hold keeps the keys an application may use; such a
		// key no application has, and leaving it active and unknown would break "a created
		// key is never lost" (it is delivered, pending, or deleted as an orphan).
		s.res.Faults["held-user-key-nobody-received-deleted"]++
		return
	}
	s.violate("a held key is neither deactivated nor deleted until the day after its hold, but by rule 2",
		fmt.Sprintf("%s %s of %s on %s, held until %s (placed day %d; keys %v); its story:\n    %s", c.Operation, k.AccessKeyID, o.user,
			s.now.Format(time.DateOnly), h.until, h.placed, keyIDs(s.w.Keys(o.account, o.user)), strings.Join(s.trace[k.AccessKeyID], "\n    ")))
}

// keysReadBefore is the last day before today on which the rotator listed o's keys (-1: none).
func (s keyChecks) keysReadBefore(o *owner) int { return before(s.keysRead, o, s.day) }

// userReadBefore is the last day before today on which the rotator's read of o got past its
// keys to its tags (-1: none).
func (s keyChecks) userReadBefore(o *owner) int { return before(s.usersRead, o, s.day) }

// before is the last of o's days before today (-1: none).
func before(days map[string][2]int, o *owner, today int) int {
	read, ok := days[o.account+"/"+o.user]
	switch {
	case !ok:
		return -1
	case read[1] < today:
		return read[1]
	}
	return read[0]
}

// exempt: exempt users get zero writes.
func (s keyChecks) exempt(c awsmodel.Call, o *owner, tags map[string]string) {
	if policy.Exempt(tags, s.policy) {
		_, keyID := c.Target()
		s.violate("exempt users get zero writes", fmt.Sprintf("%s %s of exempt user %s", c.Operation, keyID, o.user))
	}
}

// deletion checks a DeleteAccessKey of o's key k; it reports whether rule 2 deletes k (unused
// for U days: whoever holds it), which no other check of the write concerns.
func (s keyChecks) deletion(c awsmodel.Call, o *owner, k awsmodel.Key, tags map[string]string) (unused bool) {
	user, keyID := o.user, k.AccessKeyID
	if day, ok := s.deactivatedOn[keyID]; ok && day == s.day && k.Status == types.StatusTypeInactive && s.reactivatedOn[keyID] > s.keysReadBefore(o) {
		// Its owner reactivated and deactivated it again since the rotator last read it (on
		// an earlier day: owners act before the day's runs; a day the rotator did not list
		// the user's keys, missed or not due, saw nothing): IAM does not say when a key was
		// deactivated, so the rotator's record of an earlier day stands (counted, allowed;
		// docs/policy.md says so). make faults -rare seed 8: reactivated on a day the user
		// was not read, deactivated the next.
		s.res.Faults["owner-reactivated-and-deactivated-between-reads"]++
	} else if ok && day == s.day && k.Status == types.StatusTypeInactive && s.reactivatedOn[keyID] > s.userReadBefore(o) {
		// The same, where the rotator listed the user's keys after the reactivation but its
		// read of the user failed before it got to the user's tags (a GetAccessKeyLastUsed
		// answering 5xx past the SDK's retries, say): the user's run ends there, writing and
		// remembering nothing, so what the listing showed is lost as if the user had not been
		// read (docs/policy.md: "between two reads of the rotator"). Counted apart, allowed.
		// The 20-seed rare campaign, seed 3 day 69, at seed180 986268f: listed Active on day
		// 68 and its read failed; deactivated by its owner on day 69, the day the rotator had
		// told it would delete it.
		s.res.Faults["owner-reactivated-and-deactivated-around-a-failed-read"]++
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
		return true
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
	return false
}

// keepsOne: an owner with a usable email keeps an active key they received.
func (s keyChecks) keepsOne(c awsmodel.Call, o *owner, k awsmodel.Key, keys []awsmodel.Key) {
	user, keyID := o.user, k.AccessKeyID
	if o.held[keyID] && !slices.ContainsFunc(keys, func(other awsmodel.Key) bool {
		return other.AccessKeyID != keyID && other.Status == types.StatusTypeActive && o.held[other.AccessKeyID]
	}) {
		s.violate("an owner with a usable email keeps an active key they received",
			fmt.Sprintf("%s %s of %s leaves the owner no active key they hold (keys %v); its story:\n    %s", c.Operation, keyID, user, keyIDs(keys), strings.Join(s.trace[keyID], "\n    ")))
	}
}
