package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// Invariant 8: every date an owner is told is the day the rotator will act. The checker reads
// each day an email that reached the owner names (sim/told.go) and holds the rotator to it:
//   - the day is after today (invariant 8 says "today or later"; the rules act on
//     nothing the day its warning is delivered, so a day told that is today is already a
//     day the rotator will not keep);
//   - the key is not deactivated (deleted) before the last day its owner was told; a deletion
//     may come earlier only when the key's slot is needed for a new key, as the KeyDeactivated
//     email says: the rotator then creates one (calls CreateAccessKey) for the user on the
//     same or the next day (the creation may fail and be undone: the slot was still needed);
//   - the key is not silently later: a key whose deactivation day has come and that is still
//     Active after a day's fault-free re-run is a violation (toldChecks.afterDay), unless its owner
//     changed their keys or tags since the email (the rules' day moved with what they did) or
//     the user failed that run (reported, with the reason). Later than told is otherwise
//     allowed only with a newer email giving the new day (it replaces the day told), or when
//     faults kept the rotator from the user that day (no fault-free run: the first run that
//     can, acts; the simulation checks lateness only after a fault-free run).
type toldDays struct {
	deactivation, deletion map[string]string // key → the last day an email that reached its owner named
	heardOn                map[string]int    // key → the simulation day of that email
	laterBounced           map[string]int    // key → the last simulation day an email naming a later deactivation day than told bounced
	earlyDelete            map[string]earlyDelete
	createdOn              map[string]int    // account/user → the last day the rotator called CreateAccessKey for it
	reported               map[string]string // key → the first later day the rotator's report gave it, past the day told (reportedLater)
	ranOn                  int               // the last day an execution ran (none on a missed day)
}

// earlyDelete is a deletion before the day told, allowed if the rotator then tries to create
// a key for the user (its slot was needed).
type earlyDelete struct {
	day    int
	detail string
}

// toldChecks keep the invariants of what owners are told: every day told is after today and
// the day the rotator acts, neither before nor silently later; a warning reaches the owner
// before the action it promises; an owner with a usable email is told before any
// deactivation; a key delivered to a store goes only while the store holds its successor.
type toldChecks struct {
	*sim
	days toldDays
}

func newToldDays() toldDays {
	return toldDays{deactivation: map[string]string{}, deletion: map[string]string{}, heardOn: map[string]int{}, laterBounced: map[string]int{}, earlyDelete: map[string]earlyDelete{}, createdOn: map[string]int{}, reported: map[string]string{}}
}

// heard records the days an email that reached the owner names: each after today.
func (s *toldChecks) heard(raw []byte, subject string) {
	t := toldIn(raw)
	today := s.now.Format(time.DateOnly)
	for what, days := range map[string]map[string]string{"deactivated": t.deactivation, "deleted": t.deletion} {
		for key, day := range days {
			// Strictly later: a warning counts from the day after its delivery (rule 3), and
			// no key is deleted on the day it was deactivated, so nothing an email announces
			// can happen on the day it is read.
			if day <= today {
				s.violate("a date an owner is told is after today", fmt.Sprintf("%s: told on %s that it will be %s on %s (%q); its story:\n    %s",
					key, today, what, day, subject, strings.Join(s.trace[key], "\n    ")))
			}
			s.note(key, "owner told it will be %s on %s", what, day)
			s.days.heardOn[key] = s.day
			if what == "deactivated" {
				s.days.deactivation[key] = day
				delete(s.days.reported, key) // a new day told: the rotator is held to it
			} else {
				s.days.deletion[key] = day
			}
		}
	}
}

// bounced records the deactivation days an email that did not reach the owner names, when
// later than the day last told.
func (s *toldChecks) bounced(raw []byte) {
	for key, day := range toldIn(raw).deactivation {
		if told, ok := s.days.deactivation[key]; ok && day > told {
			s.days.laterBounced[key] = s.day
		}
	}
}

// notBefore checks a deactivation or deletion of the rotator against the day its owner was
// last told.
func (s *toldChecks) notBefore(c awsmodel.Call, o *owner, k awsmodel.Key) {
	today := s.now.Format(time.DateOnly)
	switch c.Operation {
	case "UpdateAccessKey":
		if day, ok := s.days.deactivation[k.AccessKeyID]; ok && k.Status == types.StatusTypeActive && today < day && o.shortenedOn >= s.days.heardOn[k.AccessKeyID] {
			// Allowed (counted), for the lead to review: the owner shortened their own limit
			// (RotationDays) since the email, and rule 3 deactivates the key on the earlier
			// day the shorter limit gives. The rotator does not store the day it told (the
			// notices tag keeps the day a notice was sent, and has no room for more within
			// IAM's 256 characters), nor the limit it was computed with, so it cannot tell
			// a limit shortened since the warning from one set before it; holding warned keys
			// to the longer limit would keep, past their day, the keys of owners whose short
			// limit the warning already used. docs/policy.md lists it among the limits.
			s.res.Faults["deactivated-before-its-day-after-owner-shortened-limit"]++
		} else if ok && k.Status == types.StatusTypeActive && today < day {
			s.violate("a key is deactivated on the day its owner was told, not before", fmt.Sprintf("%s's key %s deactivated on %s, its owner was told %s; its story:\n    %s",
				o.user, k.AccessKeyID, today, day, strings.Join(s.trace[k.AccessKeyID], "\n    ")))
		}
		// Acted on: a key its owner makes Active again is theirs to keep (until rule 3 or a
		// newer email gives it a new day).
		delete(s.days.deactivation, k.AccessKeyID)
		delete(s.days.reported, k.AccessKeyID)
	case "DeleteAccessKey":
		// Allowed (counted): the owner changed their keys since the email, typically deleting
		// or deactivating the replacement whose age the day counted on; rule 3 then deletes
		// an expired Inactive key without a replacement at X. The rotator does not store the
		// day it told, so it cannot hold to it once the keys it was computed from are gone.
		if day, ok := s.days.deletion[k.AccessKeyID]; ok && today < day && o.actedOn >= s.days.heardOn[k.AccessKeyID] {
			s.res.Faults["deleted-before-its-day-after-owner-changed-keys"]++
		} else if ok && today < day {
			s.days.earlyDelete[o.account+"/"+o.user] = earlyDelete{day: s.day, detail: fmt.Sprintf("%s's key %s deleted on %s, its owner was told %s, and no new key needed its slot (keys %v; the rotator's last result: %s); its story:\n    %s\n  the user's calls:\n    %s",
				o.user, k.AccessKeyID, today, day, keyIDs(s.w.Keys(o.account, o.user)), s.lastResult(o), strings.Join(s.trace[k.AccessKeyID], "\n    "),
				strings.Join(s.trace[o.account+"/"+o.user], "\n    "))}
		}
	}
}

// afterDay ends a day: an early deletion after which the rotator tried to create no key
// for the user (by the next day it ran) is a violation, and after a fault-free re-run no key is
// left Active past the day its owner was told, unless its owner changed their keys or tags
// since, or the user failed that run.
func (s *toldChecks) afterDay(clean bool) {
	for user, e := range s.days.earlyDelete {
		if day, ok := s.days.createdOn[user]; ok && day >= e.day {
			delete(s.days.earlyDelete, user)
		} else if s.day > e.day && s.days.ranOn > e.day {
			// Judged by the next day the rotator ran: on a missed day (no execution) it
			// could not create the key whose slot the deletion made.
			s.violate("a key is deleted on the day its owner was told, not before", e.detail+"\n    the rotator's result since: "+s.lastResult(s.owners[user]))
			delete(s.days.earlyDelete, user)
		}
	}
	if !clean {
		return
	}
	today := s.now.Format(time.DateOnly)
	for _, o := range s.sortedOwners() {
		keys := s.w.Keys(o.account, o.user)
		for _, k := range keys {
			day, ok := s.days.deactivation[k.AccessKeyID]
			if !ok || k.Status != types.StatusTypeActive || day > today || !s.deliverable(o) || s.givenUp(o) {
				continue
			}
			if o.actedOn >= s.days.heardOn[k.AccessKeyID] {
				// The owner changed their keys or tags since the email (a key deactivated,
				// deleted or made, exempt, another limit): the rules' day moved with what they
				// did, and a new email names it where the rules promise one.
				continue
			}
			if o.noticesForgedOn >= s.days.heardOn[k.AccessKeyID] {
				// Allowed (counted), for the lead to review: someone forged the user's
				// notices tag since the email. The rotator takes a tag it did not sign as
				// absent (invariant 11: a forged tag may postpone an action, never hasten
				// one), so it no longer knows the warning was delivered, and waits for a new
				// one that reaches the owner, or for the bounded wait.
				s.res.Faults["later-than-told-after-forged-notices"]++
				continue
			}
			if b, ok := s.days.laterBounced[k.AccessKeyID]; ok && b >= s.days.heardOn[k.AccessKeyID] {
				// Allowed (counted), for the lead to review: since the email, the rotator named a
				// later day in one that bounced (a DeliveryFailed notice: the application's
				// secret no longer holds the new key, so deactivating the old one on the day told
				// could stop the application, invariant 10). The rotator told what it could; the
				// key waits, in the safe direction, for the day that notice gave (the bounded
				// wait), and the report lists the user with the key at risk. (Reviewed as
				// a97c25c on the bounces branch; reverted with it, back for campaign seed 113.)
				s.res.Faults["later-than-told-after-a-bounced-notice"]++
				continue
			}
			if s.bouncesOff {
				// Allowance, for the lead: the day's runs cannot see bounces (SES does not
				// suppress BOUNCE for the rotator's mail, World.BouncesUnsuppressed), so they
				// cannot tell a warning that arrived from one that bounced, and count
				// none (invariant 4 before invariant 8: acting on the day told would rest on a
				// warning that may never have arrived): the deactivation waits, in the safe
				// direction, for a run that can see bounces or for the bounded wait. It is not
				// silent: every such run's report and SNS alert say that bounces are not
				// suppressed, which setting and how to fix it. Still needed with every fix of
				// this branch in place: 316 in the 20-seed campaign after merging main (653 before).
				s.res.Faults["later-than-told-while-bounces-unsuppressed"]++
				continue
			}
			if on := s.reportedLater(o, k.AccessKeyID, today); on != "" && s.w.Suppressed(s.address(o)) {
				// Allowance, for the lead: the owner's address is on SES's suppression list,
				// which governs the rotator's mail again (the case above is over), so nothing the
				// rotator sends reaches the owner, and it cannot count the warning the owner
				// received: that one was sent while the runs could not see bounces (it may as
				// well have bounced), and the one sent again since, by a run that can, was
				// dropped (campaign seeds 35 and 133 on db9fd29). Acting on the day told would
				// rest on a warning it cannot know arrived (invariant 4 before invariant 8), so
				// the key waits for the bounded wait, and no email can tell the owner the new
				// day. It is not silent: the rotator's result for the user, in the report, gives
				// the key the day it goes (deactivateOn) and says why, and the key is held to
				// that day: the first day reported is kept, and a key still Active past it
				// after a fault-free run is a violation.
				s.res.Faults["later-than-told-while-the-address-is-suppressed"]++
				continue
			}
			if s.heldThrough(o, day) {
				// Allowed (counted), for the lead: an operator's hold covered the day told
				// (pkg/hold: no key of the user is deactivated through the hold's last day). The
				// hold exists to keep the key past that day, by the operators' decision, and the
				// owner was told by the run that placed it (HoldPlaced: active until the hold's
				// last day, and the day after it when the rules then deactivate the key, which
				// replaces this day and is held to). Without a usable address nobody is told.
				s.res.Faults["later-than-told-under-a-hold"]++
				continue
			}
			if r := s.lastPlan[o.account+"/"+o.user]; r.Error != "" {
				// The user failed the fault-free run (a rotator tag someone spoiled stops the
				// user, invariant 3): the report names the user and the reason, so it is not
				// silent, and the key waits for a run that can act.
				continue
			}
			s.violate("a key is deactivated on the day its owner was told, not silently later", fmt.Sprintf("%s's key %s still active on %s after a fault-free run, its owner was told %s (keys %v; the rotator's last result: %s); its story:\n    %s",
				o.user, k.AccessKeyID, today, day, keyIDs(keys), s.lastResult(o), strings.Join(s.trace[k.AccessKeyID], "\n    ")))
		}
	}
}

// reportedLater returns the day the rotator's last result for o's user gives Active key id
// (deactivateOn), when that result says why the key stays active and the day is after today:
// the first such day reported for the key, which it is held to; "" otherwise.
func (s *toldChecks) reportedLater(o *owner, id, today string) string {
	r := s.lastPlan[o.account+"/"+o.user]
	i := slices.IndexFunc(r.Keys, func(k policy.KeyUsage) bool { return k.AccessKeyID == id })
	if i < 0 || !strings.Contains(r.Reason, id) || r.Keys[i].DeactivateOn <= today {
		return ""
	}
	first, ok := s.days.reported[id]
	if !ok {
		s.days.reported[id] = r.Keys[i].DeactivateOn
		first = r.Keys[i].DeactivateOn
	}
	if first <= today {
		return ""
	}
	return first
}

// before checks the rotator's deactivation or deletion of Active key k of o (rule 2's
// unused keys aside) against DESIGN.md's invariants 9 and 10:
//   - 9: an owner with a usable email (not given up) is told on an earlier day (a warning
//     giving the date: NewKeyIssued, DeactivationScheduled or DeliveryFailed, whatever the
//     delivery channel), or the bounded wait is over (noticePeriod days past k's date).
//     Allowance, for the lead to review: the bounded wait counts from the key's date also
//     when no warning was ever sent (the owner was exempt, had no usable email, the user
//     failed every run, or the key was a legacy one, when that date passed: rule 3 then
//     deactivates it at once, policy warnedOrGivenUp). A check that the wait began with a
//     warning sent (a mail to SES, bounced or not) flags exactly those; whether a key must
//     then be warned first is invariant 8's (every date told is the day the rotator acts).
//     The allowance holds only for a key the rotator made a successor for or beside another
//     Active key (waitBounded): a key no successor could be made for goes only once told;
//   - 10: a key whose successor the rotator wrote to its application's secret goes only while
//     that secret's current value is the successor; when it is not (the application wrote
//     it over, deleted it), only at the bounded wait's end once the owner was told
//     (noticePeriod days past k's date), or noticePeriod days later still.
//
// For a GitHub store, which nobody can read back (the rotator included), 10 is its first-use
// form (policy.User.AwaitsFirstUse): k goes only once its successor was used (IAM's last
// use), or on the same bounded wait's terms.
//
// A machine user's application that reads k loses it: that too needs the owner told first
// (or the bounded wait over), whether or not the secret opts in now.
func (s *toldChecks) before(c awsmodel.Call, o *owner, k awsmodel.Key, keys []awsmodel.Key, tags map[string]string) {
	due := s.deactivationDue(k, keys, tags)
	day, told := s.warnedOn[k.AccessKeyID]
	told = told && day < s.day
	story := func() string { return strings.Join(s.trace[k.AccessKeyID], "\n    ") }
	app, _ := s.appReads(o)
	if sec, ok := s.store(o); o.app != "" && c.Operation == "UpdateAccessKey" {
		for succ, replaced := range s.rotatorKeys {
			current := ok && !sec.Scheduled && app.AccessKeyID == succ
			if _, gitHub := gitHubOf(o); gitHub {
				current = slices.ContainsFunc(keys, func(o awsmodel.Key) bool { return o.AccessKeyID == succ && o.LastUsed != nil })
			}
			gone := !slices.ContainsFunc(keys, func(o awsmodel.Key) bool { return o.AccessKeyID == succ }) // a successor deleted since is none
			if replaced != k.AccessKeyID || !s.writtenTo[succ] || current || gone || s.pastGrace(due) && told || s.pastGraceBy(due, 2) {
				continue
			}
			s.violate("a key delivered to a store is deactivated only while the store's current value is its successor",
				fmt.Sprintf("%s's key %s deactivated on day %d: %s (scheduled for deletion: %v) holds %s, not its successor %s; the owner told on an earlier day: %v; its story:\n    %s\n  its successor's:\n    %s\n  the key the store holds:\n    %s",
					o.user, k.AccessKeyID, s.day, o.app, ok && sec.Scheduled, app.AccessKeyID, succ, told, story(),
					strings.Join(s.trace[succ], "\n    "), strings.Join(s.trace[app.AccessKeyID], "\n    ")))
		}
	}
	if s.address(o) == "" || s.addressGivenUp(o) || told || s.pastGrace(due) && s.waitBounded(k, keys) {
		return // the bounded wait (see above)
	}
	if c.Operation == "UpdateAccessKey" || o.app != "" && app.AccessKeyID == k.AccessKeyID {
		s.violate("an owner with a usable email is told before any deactivation",
			fmt.Sprintf("%s %s of %s (due %s; its application reads it: %v; keys %v; tags %v) without a warning delivered on an earlier day; its story:\n    %s",
				c.Operation, k.AccessKeyID, o.user, due, o.app != "" && app.AccessKeyID == k.AccessKeyID, keyIDs(keys), tags, story()))
	}
}

// waitBounded reports whether the bounded wait may let Active key k of a reachable owner go
// untold: only while the rotator made k a successor (its delivery or its warning kept
// failing) or another of the user's keys is Active (the owner keeps a working key). A key with
// neither is one no replacement could be made for although the owner's email is usable (the
// application's store refuses it): its owner must hear why, DeliveryFailed, before it goes.
func (s *toldChecks) waitBounded(k awsmodel.Key, keys []awsmodel.Key) bool {
	for _, replaced := range s.rotatorKeys {
		if replaced == k.AccessKeyID {
			return true
		}
	}
	return slices.ContainsFunc(keys, func(o awsmodel.Key) bool {
		return o.AccessKeyID != k.AccessKeyID && o.Status == types.StatusTypeActive
	})
}

// promised: a deactivation the rotator attempted to warn of waits for that warning delivered
// on an earlier day, or for the bounded wait.
func (s *toldChecks) promised(o *owner, k awsmodel.Key, keys []awsmodel.Key, tags map[string]string) {
	user, keyID := o.user, k.AccessKeyID
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

// created records a CreateAccessKey of the rotator for o: a deletion before its day may have
// made room for it.
func (s *toldChecks) created(o *owner) { s.days.createdOn[o.account+"/"+o.user] = s.day }
