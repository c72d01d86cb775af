// Package policy decides what happens to IAM users' access keys on a given day: the rotation
// rules of docs/policy.md as a pure function of (users, config, now) with a readable reason for
// every action. It makes no AWS call and reads no clock.
package policy

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

const day = 24 * time.Hour

// PlanUsers validates the config and the users, plans every user and applies maxUsers
// (rule 8) across them. The users are one account's, or one plan input's.
func PlanUsers(users []User, cfg Config, now time.Time) (Plan, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Plan{}, err
	}
	if err := validateUsers(users); err != nil {
		return Plan{}, err
	}
	plan := Plan{Users: make([]UserPlan, 0, len(users))}
	for _, u := range users {
		plan.Users = append(plan.Users, PlanUser(u, cfg, now))
	}
	deferBeyondMaxUsers(plan.Users, cfg.MaxUsers)
	return plan, nil
}

// MayAct reports whether any rule could act on, or send a notice about, a user with these
// keys, whatever the user's tags: a key at least rotate-at days old (every later threshold is
// larger), or one unused for unused-at days. Scanners use it to skip the users with nothing
// due without reading their tags. cfg must be defaulted.
func MayAct(keys []Key, cfg Config, now time.Time) bool {
	th := cfg.Timeline()
	return slices.ContainsFunc(keys, func(k Key) bool {
		return ageDays(k.CreateDate, now) >= th.RotateAt || idleDays(k, now) >= th.UnusedAt
	})
}

// WriteDue reports whether a user with these keys, as a credential report shows them (no
// IDs, tags or history; a slot the report shows empty given as an Inactive key with the
// slot's last use: it may hold one), has a write due today whatever their tags and history,
// or else can get no notice at all (exempt, or without a usable email): once maxUsers users
// have writes, the executor may defer such a user unread (rule 8) and hold back no notice.
// Two shapes qualify:
//   - an Active key unused for unused-at days: rule 2 deletes it whatever the other key, the
//     notices sent or the owner's email (a RotationDays tag only shortens unused-at);
//   - one Active key at least rotate-at days old, beside nothing but an Inactive key never
//     used: rule 4 replaces it for an owner with a usable email (deleting that key to make
//     room, or, if it was first known inactive today, doing nothing and sending nothing:
//     outside cleanup the rotator deactivates no never-used key, rule 2 deletes it first);
//     without an email, rule 3 deactivates it at deactivate-at and nothing is sent.
//
// Anything else may come down to notices alone (a deactivation waiting for its warning, two
// Active keys, an Inactive key whose KeyDeactivated notice is still owed), and in cleanup mode
// (rule 7) every write depends on the email or on who deactivated the key: false. cfg must be
// defaulted.
func WriteDue(keys []Key, cfg Config, now time.Time) bool {
	if cfg.Cleanup {
		return false
	}
	th := cfg.Timeline()
	due, others := 0, 0
	for _, k := range keys {
		switch {
		case k.Status == Active && idleDays(k, now) >= th.UnusedAt:
			return true
		case k.Status == Active && ageDays(k.CreateDate, now) >= th.RotateAt:
			due++
		case k.Status == Active || k.LastUsedDate != nil:
			others++
		}
	}
	return due == 1 && others == 0
}

// PlanUser decides one user's actions and notices. cfg must be defaulted and valid, and u must
// pass validateUsers; PlanUsers does both.
func PlanUser(u User, cfg Config, now time.Time) UserPlan {
	p := UserPlan{UserName: u.UserName, Actions: []Action{}, Notices: []Notice{}, Keys: []KeyUsage{}}
	keys := slices.Clone(u.Keys)
	slices.SortFunc(keys, byAge)
	for _, k := range keys {
		p.OldestKeyAgeDays = max(p.OldestKeyAgeDays, ageDays(k.CreateDate, now))
	}
	if Exempt(u.Tags, cfg) {
		p.Keys = keyUsages(keys, now, cfg.Timeline())
		p.Status = StatusExempt
		p.Reason = ExemptReason(u.Tags, cfg)
		return p
	}
	orgLimit := cfg.LimitDays
	cfg, p.RotationDaysProblem = cfg.ForUser(u.Tags)
	th := cfg.Timeline()
	if cfg.LimitDays != orgLimit {
		p.Timeline = &th
	}
	p.Keys = keyUsages(keys, now, th)
	p.Email, p.EmailProblem = OwnerEmail(u.Tags, cfg)
	if u.DeliveryProblem != "" && p.Email != "" {
		p.Email, p.EmailProblem = "", u.DeliveryProblem
	}
	var notAgain []NoticeRef
	if u.Unheard != "" {
		// Sent, so not planned again: those counted and those not (the owner may have read them).
		notAgain = append(slices.Clone(u.NoticesSent), u.NoticesUnconfirmed...)
	}
	d := decider{cfg: cfg, th: th, now: now, user: u, plan: &p, email: p.Email != "", keys: keys, notAgain: notAgain,
		held: !cfg.Cleanup && u.Hold.Holds(u, now)}
	if u.AwaitsFirstUse && !cfg.Cleanup {
		d.awaitFirstUse(keys)
	}
	if cfg.Cleanup {
		d.cleanup(keys)
	} else {
		d.rotate(keys)
	}
	if !d.held {
		d.deactivationDays() // a held key has no day before the hold ends; HoldPlacedNotice tells it
	}
	p.Status = headline(p)
	if d.held && !u.Hold.Asked.IsZero() && midnight(now).After(midnight(u.Hold.Until)) && d.email {
		// Released early, and the release's email is not known to have reached the owner (it
		// failed, or was sent by a run that could not see bounces): sent again, naming
		// tomorrow; the hold holds until it counts (rule 5: once more by a run that sees bounces).
		if k := firstActive(keys); k.AccessKeyID != "" {
			if n := HoldPlacedNotice(u, cfg, now, k.AccessKeyID); !d.sent(HoldReleased, n.AccessKeyID) {
				p.Notices = append(p.Notices, n)
			}
		}
	}
	if d.held {
		p.Held = true
		p.Reason = fmt.Sprintf("held by an operator until %s (%s): no key is deactivated or deleted before %s, but for unused keys (rule 2)",
			dateOf(u.Hold.Until), u.Hold.Reason, dateOf(u.Hold.Ends()))
		if u.Hold.Until.Before(midnight(now)) {
			p.Reason = fmt.Sprintf("held by an operator until %s, released early (%s): held through %s, the day its owner was told, until the release's email reached them",
				dateOf(u.Hold.Until), u.Hold.Reason, dateOf(u.Hold.Asked))
		}
		if p.Status == StatusOK {
			p.Status = StatusHeld
		}
	}
	if p.Status == StatusOK && p.Reason == "" {
		p.Reason = d.nothingDueReason(keys)
	}
	return p
}

// keyUsages is the evidence of each key's use, oldest key first, with its successor's
// under timeline th.
func keyUsages(keys []Key, now time.Time, th Timeline) []KeyUsage {
	usages := []KeyUsage{}
	for _, k := range keys {
		ku := KeyUsage{Usage: k.Usage(), Status: k.Status}
		if s, ok := successor(k, keys, now, th); ok {
			su := s.Usage()
			ku.Replacement = &su
		}
		usages = append(usages, ku)
	}
	return usages
}

// decider holds one user's planning state.
type decider struct {
	cfg   Config
	th    Timeline
	now   time.Time
	user  User
	plan  *UserPlan
	email bool  // the owner has a usable address
	keys  []Key // the user's keys, oldest first
	left  []Key // those rule 2 does not delete (rotate only)
	// blocked is the key rule 4 would rotate if its new key could be delivered to the
	// application's secret (User.SecretProblem); zero Key: none.
	blocked Key

	deletes, deactivations []Action
	// deactivatedToday holds the keys deactivated by this run or by an earlier run of the
	// same (UTC) day: they are not deleted before the next day, so that a re-run on the same
	// day changes nothing.
	deactivatedToday map[string]bool
	// notAgain are the notices sent to an address that no longer hears them (User.Unheard):
	// not planned again.
	notAgain []NoticeRef
	// held: an operator's hold holds today (User.Hold): rule 2 alone acts.
	held bool
}

// rememberDeactivations marks the keys an earlier run deactivated today.
func (d *decider) rememberDeactivations(keys []Key) {
	d.deactivatedToday = map[string]bool{}
	for _, k := range keys {
		if k.Status == Inactive && k.DeactivatedDate != nil && dateOf(*k.DeactivatedDate) == dateOf(d.now) {
			d.deactivatedToday[k.AccessKeyID] = true
		}
	}
}

// rotate applies rules 2 to 6 to keys sorted oldest first.
func (d *decider) rotate(keys []Key) {
	d.rememberDeactivations(keys)
	// Rule 2: unused keys go first, whatever their status (one deactivated today, tomorrow).
	var left []Key
	for _, k := range keys {
		if idle := idleDays(k, d.now); idle >= d.th.UnusedAt && !d.deactivatedToday[k.AccessKeyID] && !d.deletionAnnounced(k) {
			d.delete(k, UnusedKeyDeleted, fmt.Sprintf("key %s %s (unused limit %d days): delete",
				k.AccessKeyID, d.idleText(k, idle), d.th.UnusedAt))
			continue
		}
		left = append(left, k)
	}
	d.left = left
	if d.held {
		// An operator's hold: nothing but rule 2 deactivates or deletes, and no day is
		// announced, which the hold might not keep (invariant 8).
		d.plan.Actions = append(d.plan.Actions, d.deletes...)
		return
	}

	// Rule 4's candidate is chosen first because rule 3 defers to it: the oldest Active key
	// due for rotation without a replacement, if a key can be created for it now.
	toRotate, makeRoom, canCreate := d.rotationCandidate(left)
	d.blocked = d.blockedBySecret(left)

	// Rule 3: expired keys.
	for _, k := range left {
		repl, hasRepl := replacement(k, left, d.now, d.th)
		switch {
		case k.Status == Active && d.age(k) >= d.th.DeactivateAt:
			d.expiredActive(k, left, repl, hasRepl, toRotate, canCreate)
		case k.Status == Inactive && k.AccessKeyID != makeRoom.AccessKeyID && d.age(k) >= d.th.DeleteAt && !d.deactivatedToday[k.AccessKeyID]:
			if k.DeactivatedByRotator && d.email && !d.warnedBefore(k, KeyDeactivated) && d.age(k) < d.th.DeleteAt+d.th.Notice {
				continue // the owner was not yet told of the deactivation: the deletion waits for it
			}
			if !hasRepl {
				d.delete(k, KeyDeleted, fmt.Sprintf("inactive key %s is %d days old (delete at %d): delete",
					k.AccessKeyID, d.age(k), d.th.DeleteAt))
			} else if d.age(repl) >= 2*d.th.Notice {
				d.delete(k, KeyDeleted, fmt.Sprintf("inactive key %s is %d days old (delete at %d) and its replacement %s is %d days old (at least %d): delete",
					k.AccessKeyID, d.age(k), d.th.DeleteAt, repl.AccessKeyID, d.age(repl), 2*d.th.Notice))
			}
		}
	}

	// Rule 4: rotate, or tell the owner why no key can be created.
	var creates []Action
	if canCreate {
		if makeRoom.AccessKeyID != "" {
			d.delete(makeRoom, KeyDeleted, fmt.Sprintf("inactive key %s is %d days old and its slot is needed for the replacement of %s: delete",
				makeRoom.AccessKeyID, d.age(makeRoom), toRotate.AccessKeyID))
		}
		deactivateOn := ActOn(latest(d.deactivationDue(toRotate, Key{}), d.now.Add(days(d.th.Notice))), d.now)
		creates = append(creates, Action{Action: CreateKey, Replaces: toRotate.AccessKeyID, DeactivateOn: dateOf(deactivateOn), Reason: fmt.Sprintf(
			"key %s is %d days old (new key at %d) and has no replacement: create a new key; %s will be deactivated on %s",
			toRotate.AccessKeyID, d.age(toRotate), d.th.RotateAt, toRotate.AccessKeyID, dateOf(deactivateOn))})
		d.notify(NewKeyIssued, toRotate, deactivateOn, NewKeyIssuedMessage(toRotate.AccessKeyID, dateOf(deactivateOn)))
	}
	if b := d.blocked; b.AccessKeyID != "" && !d.deactivatedToday[b.AccessKeyID] {
		on := latest(d.failureDay(b), d.now.Add(day))
		d.notify(DeliveryFailed, b, on, fmt.Sprintf("No new key can be delivered to replace access key %s: %s. %s will be deactivated on %s unless that is fixed before; once it is, the next run delivers a new key and gives its date.",
			b.AccessKeyID, d.user.SecretProblem, b.AccessKeyID, dateOf(on)))
	}
	d.scheduleNotices(left, toRotate)
	// A KeyDeactivated notice that could not be delivered when the key was deactivated is
	// sent again (its deletion waits for it).
	for _, k := range left {
		if k.Status == Inactive && k.DeactivatedByRotator && !slices.ContainsFunc(d.deletes, func(a Action) bool { return a.AccessKeyID == k.AccessKeyID }) {
			repl, _ := replacement(k, left, d.now, d.th)
			d.deactivatedNotice(k, repl)
		}
	}

	d.plan.Actions = append(append(append(d.plan.Actions, d.deletes...), d.deactivations...), creates...)
}

// deletionAnnounced reports whether the owner was told the day Inactive key k is deleted (a
// KeyDeactivated notice, delivered or possibly so: User.NoticesUnconfirmed, or a record of
// notices someone overwrote: User.NoticesUnsure): rule 3 deletes it on that day, rule 2 not
// earlier (invariant 8).
func (d *decider) deletionAnnounced(k Key) bool {
	ref := NoticeRef{Kind: KeyDeactivated, AccessKeyID: k.AccessKeyID}
	return k.Status == Inactive && k.DeactivatedByRotator &&
		(d.user.NoticesUnsure || slices.Contains(d.user.NoticesSent, ref) || slices.Contains(d.user.NoticesUnconfirmed, ref))
}

// expiredActive applies rule 3 to an Active key at least deactivate-at days old. A key is
// deactivated only once its owner was warned on an earlier day (a NewKeyIssued or
// DeactivationScheduled notice delivered), unless the owner cannot be reached: no usable
// email, or the warning kept failing for noticePeriod days past its date.
func (d *decider) expiredActive(k Key, keys []Key, repl Key, hasRepl bool, toRotate Key, canCreate bool) {
	other, hasOther := otherKey(k, keys)
	switch {
	case d.failureHeld(k):
		// Its owner was told the day it goes (DeliveryFailed): not before, whatever was fixed
		// since (invariant 8).
	case hasRepl && k.StoreBehind != "":
		d.storeBehind(k, repl)
	case hasRepl:
		due := d.deactivationDue(k, repl)
		if reached(d.now, due) && d.warnedOrGivenUp(k, due) {
			d.deactivate(k, fmt.Sprintf("key %s is %d days old and its replacement %s is %d days old: deactivate",
				k.AccessKeyID, d.age(k), repl.AccessKeyID, d.age(repl)), repl)
		}
	case !d.email:
		d.deactivate(k, fmt.Sprintf("key %s is %d days old (limit %d) and no replacement can be delivered (%s): deactivate",
			k.AccessKeyID, d.age(k), d.th.DeactivateAt, d.plan.EmailProblem), Key{})
	case k.AccessKeyID == d.blocked.AccessKeyID:
		// No replacement can be delivered to the application's secret: the owner, whose
		// email is usable, is told why (DeliveryFailed) before the key goes, or the bounded
		// wait ends.
		// (failureHeld keeps it until the day the notice gave, the same bound.) The notice
		// must have reached the owner on an earlier day, also for a key whose date is long
		// past (a legacy key, or the IAM listing of a run's retry that does not show the key
		// the run just made): such a key would otherwise go at once, untold (invariant 9);
		// its notice names tomorrow. A mail that bounces gives the address up (rule 6).
		if reached(d.now, d.failureDay(k)) && d.warnedBefore(k, DeliveryFailed) {
			d.deactivate(k, fmt.Sprintf("key %s is %d days old (limit %d) and no replacement can be delivered (%s): deactivate",
				k.AccessKeyID, d.age(k), d.th.DeactivateAt, d.user.SecretProblem), Key{})
		}
	case canCreate && k.AccessKeyID == toRotate.AccessKeyID:
		// Rotated below; deactivated noticePeriod days after its replacement exists.
	case hasOther && other.Status == Active && !other.Undelivered && k.AccessKeyID == keys[0].AccessKeyID && k.StoreBehind != "":
		// The application's secret does not hold k's successor, which reached rotate-at
		// itself while k waited (a short RotationDays, warnings that could not count): k
		// waits for the secret all the same, as for its replacement (invariant 10).
		d.storeBehind(k, other)
	case hasOther && other.Status == Active && !other.Undelivered && k.AccessKeyID == keys[0].AccessKeyID:
		// Both keys are Active and neither replaces the other: the oldest goes on its date,
		// which frees its slot for the other's replacement on the next run. The younger stays
		// active so that the owner is never left without a working key.
		if d.warnedOrGivenUp(k, d.deactivationDue(k, Key{})) {
			d.deactivate(k, fmt.Sprintf("key %s is %d days old (limit %d) and no replacement can be created while key %s is also active: deactivate",
				k.AccessKeyID, d.age(k), d.th.DeactivateAt, other.AccessKeyID), Key{})
		}
	default:
		// A replacement is on its way (created, its delivery not yet confirmed) or can be
		// created on a later run (the other slot holds a key deactivated today): k stays active
		// until the owner holds the replacement.
	}
}

// awaitFirstUse applies rule 3's wait for a destination nobody can read back
// (User.AwaitsFirstUse, a GitHub secret): an Active key whose replacement was never used by
// the key's date minus noticePeriod/2 waits for that use as for a secret behind
// (Key.StoreBehind): its owner is told the day it goes, noticePeriod days past its date
// (storeBehindNotice), and it goes then once told, or noticePeriod days later still. A use
// seen after the owner was told does not bring that day forward (failureHeld, invariant 8).
func (d *decider) awaitFirstUse(keys []Key) {
	for i, k := range keys {
		repl, ok := replacement(k, keys, d.now, d.th)
		if k.Status != Active || k.StoreBehind != "" || !ok || repl.LastUsedDate != nil ||
			!reached(d.now, d.deactivationDue(k, repl).Add(-days(d.th.Notice)/2)) {
			continue
		}
		keys[i].StoreBehind = fmt.Sprintf("new key %s has not been used since it was delivered, and nobody can read a GitHub secret back: only its use shows that the workflow holds it", repl.AccessKeyID)
	}
}

// storeBehind applies rule 3 to an expired key whose replacement should be in the
// application's secret when that secret's current value is not the replacement
// (Key.StoreBehind): the application may still read k. The owner is told why and on which
// day k goes (storeBehindNotice); k goes on that day, noticePeriod days past its own date,
// once the notice was delivered on an earlier day, or noticePeriod days later still (the
// bounded wait).
func (d *decider) storeBehind(k, repl Key) {
	bound := d.deactivationDue(k, repl).Add(days(d.th.Notice))
	if reached(d.now, bound) && d.warnedBefore(k, DeliveryFailed) || reached(d.now, bound.Add(days(d.th.Notice))) {
		d.deactivate(k, fmt.Sprintf("key %s is %d days old and its replacement %s is %d days old; the application's secret does not hold %s (%s) and the wait for it is over: deactivate",
			k.AccessKeyID, d.age(k), repl.AccessKeyID, d.age(repl), repl.AccessKeyID, k.StoreBehind), repl)
		return
	}
	d.storeBehindNotice(k, repl)
}

// storeBehindNotice tells the owner of Active key k, whose replacement repl the application's
// secret does not hold (Key.StoreBehind), why k stays active past its date and the day it
// goes: noticePeriod days past that date (DeliveryFailed, whose day holds once told). It is
// the key's first warning when the secret is found behind before k's date is announced
// (scheduleNotices): the rules' date, which k would not be deactivated on, is never named.
func (d *decider) storeBehindNotice(k, repl Key) {
	on := latest(d.deactivationDue(k, repl).Add(days(d.th.Notice)), d.now.Add(day))
	opening := fmt.Sprintf("The application's secret does not hold your newer key %s: %s.", repl.AccessKeyID, k.StoreBehind)
	if d.user.AwaitsFirstUse && repl.LastUsedDate == nil {
		opening = fmt.Sprintf("Your newer key %s was delivered but is not used yet: %s.", repl.AccessKeyID, k.StoreBehind)
	}
	d.notify(DeliveryFailed, k, on, fmt.Sprintf("%s Access key %s, which the application may still use, stays active until %s and is deactivated on that day.",
		opening, k.AccessKeyID, dateOf(on)))
}

// waitsForSecret returns the key the application's secret should hold in place of Active
// key k when it does not (Key.StoreBehind) and k waits for it (storeBehind, for an owner with
// a usable email): k's replacement, or, for the older of two Active keys, the younger one,
// whose successor it was until it reached rotate-at itself. The day such a key goes is
// storeBehind's, and only its notice names it.
func (d *decider) waitsForSecret(k Key, keys []Key) (Key, bool) {
	if k.Status != Active || k.StoreBehind == "" || !d.email {
		return Key{}, false
	}
	if repl, ok := replacement(k, keys, d.now, d.th); ok {
		return repl, true
	}
	if other, ok := otherKey(k, keys); ok && other.Status == Active && !other.Undelivered && k.AccessKeyID == keys[0].AccessKeyID {
		return other, true
	}
	return Key{}, false
}

// blockedBySecret returns the key rule 4 would rotate now (the oldest Active key with age ≥
// R and no replacement, with a free slot or an Inactive other key) when its new key cannot
// be delivered to the application's secret (User.SecretProblem) while the owner's email is
// usable; zero Key otherwise.
func (d *decider) blockedBySecret(keys []Key) Key {
	if d.user.SecretProblem == "" || !d.email || slices.ContainsFunc(keys, func(k Key) bool { return k.Undelivered }) {
		return Key{}
	}
	for _, k := range keys {
		if _, hasRepl := replacement(k, keys, d.now, d.th); k.Status == Active && d.age(k) >= d.th.RotateAt && !hasRepl {
			if other, hasOther := otherKey(k, keys); hasOther && (other.Status == Active || d.deactivatedToday[other.AccessKeyID]) {
				return Key{} // no key could be created today anyway (rotationCandidate): the ordinary rules apply
			}
			return k
		}
	}
	return Key{}
}

// deactivationDue is the day rule 3 deactivates Active key k: at deactivate-at, and not
// before noticePeriod days after its replacement repl (zero Key: none).
func (d *decider) deactivationDue(k, repl Key) time.Time {
	due := k.CreateDate.Add(days(d.th.DeactivateAt))
	if repl.AccessKeyID != "" {
		due = latest(due, repl.CreateDate.Add(days(d.th.Notice)))
	}
	return due
}

// deactivationDays completes the plan's key evidence with the day each Active key is
// deactivated, where the plan or the rules fix it, and whether it is at risk: still used
// within AtRiskDays and due within AtRiskDays.
func (d *decider) deactivationDays() {
	for i, k := range d.keys {
		on, ok := d.deactivateOn(k)
		if !ok {
			continue
		}
		ku := &d.plan.Keys[i]
		ku.DeactivateOn = dateOf(on)
		ku.AtRisk = k.LastUsedDate != nil && ageDays(*k.LastUsedDate, d.now) <= AtRiskDays && ageDays(d.now, on) <= AtRiskDays
	}
}

// deactivateOn is the day Active key k is deactivated: today if the plan does it, the day a
// planned new key gives it, else rule 3's date when it does not depend on a key still to be
// created (a replacement, delivered or on its way; no usable email; the oldest of two
// Active keys).
func (d *decider) deactivateOn(k Key) (time.Time, bool) {
	for _, a := range d.plan.Actions {
		switch {
		case a.AccessKeyID == k.AccessKeyID:
			return d.now, a.Action == DeactivateKey
		case a.Action == CreateKey && a.Replaces == k.AccessKeyID:
			on, err := time.Parse(time.DateOnly, a.DeactivateOn)
			return on, err == nil
		}
	}
	if k.Status != Active || d.cfg.Cleanup || d.age(k) < d.th.RotateAt {
		return time.Time{}, false
	}
	if s, ok := successor(k, d.left, d.now, d.th); ok && k.StoreBehind != "" {
		return d.storeBehindDay(k, s), true
	} else if w, waits := d.waitsForSecret(k, d.left); waits && !d.failureTold(k) {
		return latest(d.deactivationDue(k, w).Add(days(d.th.Notice)), d.now.Add(day)), true
	} else if ok && !d.failureHeld(k) {
		return d.warnedDay(k, d.deactivationDue(k, s)), true
	}
	if k.AccessKeyID == d.blocked.AccessKeyID || d.failureTold(k) {
		return latest(d.failureDay(k), d.now.Add(day)), true
	}
	other, hasOther := otherKey(k, d.left)
	if !d.email {
		return d.deactivationDue(k, Key{}), true
	}
	if hasOther && other.Status == Active && !other.Undelivered && k.AccessKeyID == d.left[0].AccessKeyID {
		return d.warnedDay(k, d.deactivationDue(k, Key{})), true
	}
	return time.Time{}, false
}

// warnedDay is the day rule 3 deactivates Active key k, due on due, as far as its warning
// goes (warnedOrGivenUp): due, unless that day has come and no warning counts yet. Then k
// waits: until tomorrow for a warning delivered or planned today (it counts from the next
// day), else until the bounded wait ends, noticePeriod days past due. A key kept past the
// day its owner may have been told, in a run where nothing sent to the owner counts
// (User.Unheard), is named in the plan's reason with that day (invariant 8: not silently
// later).
func (d *decider) warnedDay(k Key, due time.Time) time.Time {
	if !d.email || !reached(d.now, due) || d.warnedOrGivenUp(k, due) {
		return due
	}
	warning := func(r NoticeRef) bool {
		return r.AccessKeyID == k.AccessKeyID && (r.Kind == NewKeyIssued || r.Kind == DeactivationScheduled)
	}
	if d.user.Unheard == "" && (slices.ContainsFunc(d.user.NoticesSentToday, warning) || slices.ContainsFunc(d.plan.Notices, func(n Notice) bool { return warning(n.Ref()) })) {
		return ActOn(due, d.now)
	}
	end := midnight(due).Add(days(d.th.Notice))
	if d.user.Unheard != "" && slices.ContainsFunc(d.user.NoticesUnconfirmed, warning) {
		d.plan.Reason = strings.TrimPrefix(d.plan.Reason+"; "+fmt.Sprintf(
			"key %s stays active past %s, the day its owner was told, as no warning counts (%s); it is deactivated on %s, when the wait for a warning ends",
			k.AccessKeyID, dateOf(due), d.user.Unheard, dateOf(end)), "; ")
	}
	return end
}

// storeBehindDay is the day storeBehind deactivates Active key k, whose successor s the
// application's secret does not hold (Key.StoreBehind): the day its DeliveryFailed notice gives,
// noticePeriod days past k's date, not before tomorrow. Once that day has come with no such
// notice delivered on an earlier day, k waits: until tomorrow for one sent or planned today (it
// counts from the next day), else until the bounded wait ends, noticePeriod days later still.
// A key kept past the day its owner may have been told, in a run where nothing sent to the
// owner counts (User.Unheard, which plans nothing again), is named in the plan's reason with
// the day it goes (invariant 8: not silently later), as warnedDay does.
func (d *decider) storeBehindDay(k, s Key) time.Time {
	bound := d.deactivationDue(k, s).Add(days(d.th.Notice))
	if !reached(d.now, bound) || d.warnedBefore(k, DeliveryFailed) {
		return latest(bound, d.now.Add(day))
	}
	ref := NoticeRef{Kind: DeliveryFailed, AccessKeyID: k.AccessKeyID}
	if d.user.Unheard == "" && (slices.Contains(d.user.NoticesSentToday, ref) || slices.ContainsFunc(d.plan.Notices, func(n Notice) bool { return n.Ref() == ref })) {
		return ActOn(bound, d.now)
	}
	end := midnight(bound).Add(days(d.th.Notice))
	if d.user.Unheard != "" && slices.Contains(d.user.NoticesUnconfirmed, ref) {
		d.plan.Reason = strings.TrimPrefix(d.plan.Reason+"; "+fmt.Sprintf(
			"key %s stays active past %s, the day its owner was told, as no notice counts (%s); it is deactivated on %s, when the wait for the application's secret ends",
			k.AccessKeyID, dateOf(bound), d.user.Unheard, dateOf(end)), "; ")
	}
	return end
}

// failureDay is the day a DeliveryFailed notice about Active key k gives (from the day after
// the notice on): the end of the bounded wait, noticePeriod days past k's date as its
// successor (delivered or on its way; zero Key: none) sets it. Every DeliveryFailed notice
// names it, whatever failed: no key can be delivered to the application's secret, the new
// key's write was refused, or the secret no longer holds it.
func (d *decider) failureDay(k Key) time.Time {
	s, _ := successor(k, d.keys, d.now, d.th)
	return d.deactivationDue(k, s).Add(days(d.th.Notice))
}

// failureTold reports whether the owner was sent a DeliveryFailed notice about k, delivered
// or possibly so (User.NoticesUnconfirmed): the day it gave holds either way; only a delivered
// one lets k go on it (failureHeld).
func (d *decider) failureTold(k Key) bool {
	ref := NoticeRef{Kind: DeliveryFailed, AccessKeyID: k.AccessKeyID}
	return slices.Contains(d.user.NoticesSent, ref) || slices.Contains(d.user.NoticesUnconfirmed, ref)
}

// failureHeld reports whether k stays active today because its owner was told, in a
// DeliveryFailed notice, that it is deactivated on failureDay unless the failure is fixed:
// the notice states the day, so k goes on it (the notice counting from the day after its
// delivery), also when the failure was fixed since and k's own date is earlier (invariant 8).
// A fix that creates a new key tells a new day (NewKeyIssued), and the notice is forgotten.
//
// One sent unconfirmed (User.NoticesUnconfirmed) holds k until its day only: past it, k
// goes by the other rules, which ask for warnings of their own.
func (d *decider) failureHeld(k Key) bool {
	if !slices.Contains(d.user.NoticesSent, NoticeRef{Kind: DeliveryFailed, AccessKeyID: k.AccessKeyID}) {
		return d.failureTold(k) && !reached(d.now, d.failureDay(k))
	}
	return !(reached(d.now, d.failureDay(k)) && d.warnedBefore(k, DeliveryFailed))
}

// warnedOrGivenUp reports whether k may be deactivated now that its date (due) has come: the
// owner received a warning giving the date on an earlier day, or the warning kept failing
// for noticePeriod days past the date, so the address no longer counts (the wait is bounded).
func (d *decider) warnedOrGivenUp(k Key, due time.Time) bool {
	return d.warnedBefore(k, NewKeyIssued, DeactivationScheduled) || reached(d.now, due.Add(days(d.th.Notice)))
}

// warnedBefore reports whether one of these notices about k was delivered before today.
func (d *decider) warnedBefore(k Key, kinds ...NoticeKind) bool {
	for _, kind := range kinds {
		ref := NoticeRef{Kind: kind, AccessKeyID: k.AccessKeyID}
		if slices.Contains(d.user.NoticesSent, ref) && !slices.Contains(d.user.NoticesSentToday, ref) {
			return true
		}
	}
	return false
}

// UnusedKey reports whether rule 2 deletes k, whatever its status: idle for the unused-at
// days of the user with these tags. cfg must be defaulted.
func UnusedKey(k Key, tags Tags, cfg Config, now time.Time) bool {
	cfg, _ = cfg.ForUser(tags)
	return idleDays(k, now) >= cfg.Timeline().UnusedAt
}

// OldestActive is the ID of the oldest Active key of keys in the rules' order (created
// first, then by ID), "" when none.
func OldestActive(keys []Key) string {
	keys = slices.Clone(keys)
	slices.SortFunc(keys, byAge)
	return firstActive(keys).AccessKeyID
}

// byAge orders keys as the rules read them: created first, then by ID.
func byAge(a, b Key) int {
	return cmp.Or(a.CreateDate.Compare(b.CreateDate), cmp.Compare(a.AccessKeyID, b.AccessKeyID))
}

// firstActive is the oldest Active key of keys, sorted oldest first; zero Key when none.
func firstActive(keys []Key) Key {
	for _, k := range keys {
		if k.Status == Active {
			return k
		}
	}
	return Key{}
}

// HoldPlacedNotice is the HoldPlaced notice to the owner of u, whose key keyID an operator's
// hold (u.Hold) keeps active from now: until when, why, and what the rules do the day the hold
// ends, as far as u's keys and history tell now: the day it gives (ActBy) only when the rules
// then deactivate keyID that day. cfg must be defaulted.
func HoldPlacedNotice(u User, cfg Config, now time.Time, keyID string) Notice {
	ends := latest(u.Hold.Ends(), midnight(now).Add(day)) // a notice counts from the day after its delivery
	after := u
	after.Hold, after.NoticesSentToday = nil, nil // every notice sent by now counts by then (this one too)
	after.Keys = slices.Clone(u.Keys)
	for i := range after.Keys {
		if after.Keys[i].AccessKeyID == keyID {
			after.Keys[i].Status = Active
		}
	}
	then := ends.Add(now.Sub(midnight(now)))
	p := PlanUser(after, cfg, then)
	// goesOn is the day the rules deactivate key id once the hold ends: that day, or the day
	// a warning they send then gives (a key whose warning is not on record; past the bounded
	// wait it goes that day too, should the warning fail), "" when neither.
	goesOn := func(id string) string {
		if slices.ContainsFunc(p.Actions, func(a Action) bool { return a.Action == DeactivateKey && a.AccessKeyID == id }) {
			return dateOf(ends)
		}
		if i := slices.IndexFunc(p.Notices, func(n Notice) bool { return n.Kind == DeactivationScheduled && n.AccessKeyID == id }); i >= 0 {
			return p.Notices[i].ActBy
		}
		return ""
	}
	if goesOn(keyID) == "" {
		// The notice names the key the rules deactivate when the hold ends, if any: the
		// owner is told its day, not "you are told before" of another key.
		sorted := slices.Clone(after.Keys)
		slices.SortFunc(sorted, byAge)
		if i := slices.IndexFunc(sorted, func(k Key) bool { return goesOn(k.AccessKeyID) != "" }); i >= 0 {
			keyID = sorted[i].AccessKeyID
		}
	}
	n := Notice{Kind: HoldPlaced, AccessKeyID: keyID}
	if !u.Hold.Asked.IsZero() {
		n.Kind = HoldReleased
	}
	for _, k := range u.Keys {
		if k.AccessKeyID == keyID {
			usage := k.Usage()
			n.Usage = &usage
		}
	}
	userCfg, _ := cfg.ForUser(u.Tags)
	msg := fmt.Sprintf("Access key %s is active, held by your AWS administrators until %s (%s): the key rotator deactivates and deletes none of your keys before %s, "+
		"but for a key unused for %d days, which is deleted as always.", keyID, dateOf(u.Hold.Until), u.Hold.Reason, dateOf(ends), userCfg.Timeline().UnusedAt)
	if n.Kind == HoldReleased {
		msg = fmt.Sprintf("Your AWS administrators ended the hold on your keys (%s) early, before %s: access key %s is active, and the key rotator deactivates and deletes none of your keys before %s, "+
			"but for a key unused for %d days, which is deleted as always.", u.Hold.Reason, dateOf(u.Hold.Asked), keyID, dateOf(ends), userCfg.Timeline().UnusedAt)
	}
	if n.ActBy = goesOn(keyID); n.ActBy != "" {
		msg += fmt.Sprintf(" On %s the rotation rules apply again: %s will be deactivated on %s. Move everything that still uses it to your newer key before that day.",
			dateOf(ends), keyID, n.ActBy)
	} else {
		msg += fmt.Sprintf(" From %s the rotation rules apply again, and you are told before any of your keys is deactivated or deleted.", dateOf(ends))
	}
	n.Message = msg
	return n
}

// NewKeyIssuedMessage tells the owner that a new key replaces replacedKeyID, deactivated on
// deactivateOn (YYYY-MM-DD).
func NewKeyIssuedMessage(replacedKeyID, deactivateOn string) string {
	return fmt.Sprintf("A new access key replaces %s. Switch your applications to the new key before %s, when %s will be deactivated.",
		replacedKeyID, deactivateOn, replacedKeyID)
}

// TagsFullMessage tells the owner why nothing is done to keyID: the user carries tags of
// which IAM allows MaxTagsPerUser, and the rotator needs short more free to record its work
// (what: the tags it must write).
func TagsFullMessage(userName, keyID string, tags, short int, what string) string {
	return fmt.Sprintf("IAM user %s carries %d tags, and IAM allows at most %d. The key rotator must first record its work in tags of its own (%s) "+
		"and needs %d more free: remove at least %d tags that do not start with key-rotator: from the user. "+
		"Until then the rotator does nothing to the user's keys: %s is not rotated, and stays active past its maximum age.",
		userName, tags, MaxTagsPerUser, what, short, short, keyID)
}

// rotationCandidate returns the key rule 4 rotates (the oldest Active key with age ≥ R and no
// replacement), the Inactive key to delete to make room for the new one, and whether a key
// can be created now: the owner has a usable email and the user has a free slot or an
// Inactive key that was not deactivated today (then the new key waits for the next day).
func (d *decider) rotationCandidate(keys []Key) (toRotate, makeRoom Key, canCreate bool) {
	found := false
	for _, k := range keys {
		if _, hasRepl := replacement(k, keys, d.now, d.th); k.Status == Active && d.age(k) >= d.th.RotateAt && !hasRepl {
			toRotate, found = k, true
			break
		}
	}
	if !found || !d.email || d.user.SecretProblem != "" || slices.ContainsFunc(keys, func(k Key) bool { return k.Undelivered }) {
		return Key{}, Key{}, false // an undelivered key is the replacement on its way
	}
	other, hasOther := otherKey(toRotate, keys)
	switch {
	case !hasOther:
		return toRotate, Key{}, true
	case other.Status == Inactive && !d.deactivatedToday[other.AccessKeyID]:
		return toRotate, other, true
	default:
		return Key{}, Key{}, false
	}
}

// ActOn is the day the rotator takes an action due on due that a warning delivered at now
// announces: due, and not before the next day, since a warning counts only from the day
// after its delivery (rule 3). A warning names this day, never one already past, and the
// action waits for it (invariant 8).
func ActOn(due, now time.Time) time.Time { return latest(midnight(due), midnight(now).Add(day)) }

// AnnouncedDay is ActOn for a day as a warning gives it (YYYY-MM-DD): the day to tell an
// owner at now of an action planned on an earlier day for due. A due that cannot be parsed
// is returned unchanged.
func AnnouncedDay(due string, now time.Time) string {
	t, err := time.Parse(time.DateOnly, due)
	if err != nil {
		return due
	}
	return dateOf(ActOn(t, now))
}

// scheduleNotices tells the owner, once, the day an Active key due for rotation will be
// deactivated, when no new key is issued for it in this run: either it already has a
// replacement (made by the owner, or by an earlier run whose notice was lost), or both keys
// are Active and neither replaces the other (rule 4's second case).
func (d *decider) scheduleNotices(keys []Key, rotated Key) {
	if !d.email {
		return
	}
	for _, k := range keys {
		if k.Status != Active || d.age(k) < d.th.RotateAt || d.deactivatedToday[k.AccessKeyID] || k.AccessKeyID == rotated.AccessKeyID {
			continue
		}
		if d.sent(NewKeyIssued, k.AccessKeyID) {
			if w, waits := d.waitsForSecret(k, keys); waits && d.user.AwaitsFirstUse && d.age(k) < d.th.DeactivateAt {
				d.storeBehindNotice(k, w) // its new key's first use is awaited (awaitFirstUse): told before its date
			}
			continue // the new-key email already gave the date
		}
		repl, hasRepl := replacement(k, keys, d.now, d.th)
		if w, waits := d.waitsForSecret(k, keys); waits {
			d.storeBehindNotice(k, w) // k waits for the secret: its date is not the rules'
			continue
		}
		var due time.Time
		var msg string
		// A DeliveryFailed notice the owner was sent gave the day k goes, which holds
		// (failureHeld): the announcement names it, not the rules' earlier date.
		held := func(due time.Time) time.Time {
			if d.failureTold(k) {
				return latest(due, d.failureDay(k))
			}
			return due
		}
		switch other, hasOther := otherKey(k, keys); {
		case hasRepl:
			due = ActOn(held(d.deactivationDue(k, repl)), d.now)
			msg = fmt.Sprintf("Access key %s will be deactivated on %s. Use your newer key %s instead.",
				k.AccessKeyID, dateOf(due), repl.AccessKeyID)
		case hasOther && other.Status == Active && !other.Undelivered && k.AccessKeyID == keys[0].AccessKeyID:
			due = ActOn(held(d.deactivationDue(k, Key{})), d.now)
			msg = fmt.Sprintf("Access key %s will be deactivated on %s. No new key can be issued while both of your keys are active: move your applications to %s, or delete one key, before that day.",
				k.AccessKeyID, dateOf(due), other.AccessKeyID)
		default:
			continue
		}
		d.notify(DeactivationScheduled, k, due, msg)
	}
}

// cleanup applies rule 7, the one-time initial cleanup: no notices, no new keys.
func (d *decider) cleanup(keys []Key) {
	d.rememberDeactivations(keys)
	for _, k := range keys {
		switch {
		case k.Status == Inactive && d.age(k) >= d.th.DeleteAt && !k.DeactivatedByRotator:
			// The legacy leftovers cleanup exists for: keys the rotator deactivated follow the
			// daily rules (their owner was promised a date). A key first seen Inactive today
			// may go: the operator confirmed the cleanup, and IAM does not say since when.
			d.deletes = append(d.deletes, Action{Action: DeleteKey, AccessKeyID: k.AccessKeyID, Reason: fmt.Sprintf(
				"initial cleanup: inactive key %s is %d days old (delete at %d): delete", k.AccessKeyID, d.age(k), d.th.DeleteAt)})
		case k.Status == Active && d.age(k) >= d.cfg.LimitDays && !d.email:
			d.deactivations = append(d.deactivations, Action{Action: DeactivateKey, AccessKeyID: k.AccessKeyID, Reason: fmt.Sprintf(
				"initial cleanup: key %s is %d days old (limit %d) and its owner has no usable email (%s): deactivate",
				k.AccessKeyID, d.age(k), d.cfg.LimitDays, d.plan.EmailProblem)})
		}
	}
	d.plan.Actions = append(append(d.plan.Actions, d.deletes...), d.deactivations...)
}

func (d *decider) delete(k Key, kind NoticeKind, reason string) {
	d.deletes = append(d.deletes, Action{Action: DeleteKey, AccessKeyID: k.AccessKeyID, Reason: reason})
	var msg string
	if kind == UnusedKeyDeleted {
		msg = fmt.Sprintf("Access key %s was deleted because it was not used for %d days.", k.AccessKeyID, d.th.UnusedAt)
	} else {
		msg = fmt.Sprintf("Inactive access key %s was deleted.", k.AccessKeyID)
	}
	d.notify(kind, k, time.Time{}, msg)
}

// deactivate plans k's deactivation and tells the owner when it will be deleted; repl is k's
// replacement, if any (zero Key otherwise).
func (d *decider) deactivate(k Key, reason string, repl Key) {
	d.deactivatedToday[k.AccessKeyID] = true
	d.deactivations = append(d.deactivations, Action{Action: DeactivateKey, AccessKeyID: k.AccessKeyID, Reason: reason})
	d.deactivatedNotice(k, repl)
}

// deactivatedNotice tells the owner that k was deactivated and when it will be deleted.
func (d *decider) deactivatedNotice(k, repl Key) {
	deleteOn := k.CreateDate.Add(days(d.th.DeleteAt))
	if repl.AccessKeyID != "" {
		deleteOn = latest(deleteOn, repl.CreateDate.Add(days(2*d.th.Notice)))
	}
	if on, ok := d.slotNeeded(k); ok {
		deleteOn = earliest(deleteOn, on)
	}
	deleteOn = ActOn(deleteOn, d.now) // not on the day it was deactivated, nor before the notice counts
	d.notify(KeyDeactivated, k, deleteOn, fmt.Sprintf(
		"Access key %s was deactivated. It will be deleted on %s, or earlier if its slot is needed for a new key; move anything still using it to your other key.",
		k.AccessKeyID, dateOf(deleteOn)))
}

// slotNeeded is the day rule 4 deletes k, deactivated, to make room for a new key: the day
// the user's other key, Active, comes due for rotation, when a key can then be created for
// it as far as today's read tells (the owner has a usable email, no secret refuses the
// delivery, no key is awaiting delivery). The KeyDeactivated notice names that day when it
// comes before rule 3's, so that the key is deleted on the day its owner was told, not days
// earlier (invariant 8).
func (d *decider) slotNeeded(k Key) (time.Time, bool) {
	other, ok := otherKey(k, d.left)
	if !ok || other.Status != Active || !d.email || d.user.SecretProblem != "" || slices.ContainsFunc(d.left, func(k Key) bool { return k.Undelivered }) {
		return time.Time{}, false
	}
	return other.CreateDate.Add(days(d.th.RotateAt)), true
}

// notify adds a notice unless the owner cannot be reached or already got it (rule 5).
func (d *decider) notify(kind NoticeKind, k Key, actBy time.Time, msg string) {
	if !d.email || d.sent(kind, k.AccessKeyID) {
		return
	}
	usage := k.Usage()
	n := Notice{Kind: kind, AccessKeyID: k.AccessKeyID, Message: msg, Usage: &usage}
	if s, ok := successor(k, d.keys, d.now, d.th); ok {
		su := s.Usage()
		n.Replacement = &su
	}
	if !actBy.IsZero() {
		n.ActBy = dateOf(actBy)
	}
	d.plan.Notices = append(d.plan.Notices, n)
}

func (d *decider) sent(kind NoticeKind, accessKeyID string) bool {
	ref := NoticeRef{Kind: kind, AccessKeyID: accessKeyID}
	return slices.Contains(d.user.NoticesSent, ref) || slices.Contains(d.notAgain, ref) ||
		slices.ContainsFunc(d.plan.Notices, func(n Notice) bool { return n.Kind == kind && n.AccessKeyID == accessKeyID })
}

func (d *decider) nothingDueReason(keys []Key) string {
	if len(keys) == 0 {
		return "no access keys"
	}
	if d.cfg.Cleanup {
		return "initial cleanup: nothing to clean up"
	}
	return fmt.Sprintf("nothing due: oldest key is %d days old (new key at %d, deactivate at %d)",
		d.plan.OldestKeyAgeDays, d.th.RotateAt, d.th.DeactivateAt)
}

func (d *decider) age(k Key) int { return ageDays(k.CreateDate, d.now) }

// idleDays counts whole days since the key was last used, or since it was created when it
// never was (or when IAM reports a use before creation).
func idleDays(k Key, now time.Time) int {
	if k.LastUsedDate != nil && k.LastUsedDate.After(k.CreateDate) {
		return ageDays(*k.LastUsedDate, now)
	}
	return ageDays(k.CreateDate, now)
}

func (d *decider) idleText(k Key, idle int) string {
	if k.LastUsedDate == nil {
		return fmt.Sprintf("was never used in its %d days", idle)
	}
	return fmt.Sprintf("was last used %d days ago", idle)
}

// replacement returns k's replacement: its successor, if the owner holds it (not a key
// whose delivery is unconfirmed).
func replacement(k Key, keys []Key, now time.Time, th Timeline) (Key, bool) {
	if o, ok := successor(k, keys, now, th); ok && !o.Undelivered {
		return o, true
	}
	return Key{}, false
}

// successor returns the younger Active key of the same user whose age is below rotate-at:
// the key that replaces k, delivered or on its way (IAM allows two keys, so at most one).
func successor(k Key, keys []Key, now time.Time, th Timeline) (Key, bool) {
	for _, o := range keys {
		if o.AccessKeyID != k.AccessKeyID && o.Status == Active && o.CreateDate.After(k.CreateDate) && ageDays(o.CreateDate, now) < th.RotateAt {
			return o, true
		}
	}
	return Key{}, false
}

// otherKey returns the user's other key (IAM allows two).
func otherKey(k Key, keys []Key) (Key, bool) {
	for _, o := range keys {
		if o.AccessKeyID != k.AccessKeyID {
			return o, true
		}
	}
	return Key{}, false
}

// headline picks the user's status from the most significant planned write.
func headline(p UserPlan) UserStatus {
	has := func(a ActionName) bool {
		return slices.ContainsFunc(p.Actions, func(x Action) bool { return x.Action == a })
	}
	switch {
	case has(CreateKey):
		return StatusRotate
	case has(DeactivateKey):
		return StatusDeactivate
	case has(DeleteKey):
		return StatusDelete
	case len(p.Notices) > 0:
		return StatusNotify
	default:
		return StatusOK
	}
}

// deferBeyondMaxUsers keeps writes for the maxUsers most urgent users (oldest key first,
// then by name) and defers the rest: no action and no notice this run (rule 8).
func deferBeyondMaxUsers(plans []UserPlan, maxUsers int) {
	var writers []int
	for i, p := range plans {
		if len(p.Actions) > 0 {
			writers = append(writers, i)
		}
	}
	if len(writers) <= maxUsers {
		return
	}
	slices.SortStableFunc(writers, func(a, b int) int {
		return cmp.Or(cmp.Compare(plans[b].OldestKeyAgeDays, plans[a].OldestKeyAgeDays),
			cmp.Compare(plans[a].UserName, plans[b].UserName))
	})
	for _, i := range writers[maxUsers:] {
		Defer(&plans[i], fmt.Sprintf("%d users have writes due and maxUsers is %d", len(writers), maxUsers))
	}
}

// Defer takes p's actions and notices off this run (rule 8), saying why.
func Defer(p *UserPlan, why string) {
	p.Reason = fmt.Sprintf("deferred: %s; %d planned actions wait for the next run", why, len(p.Actions))
	p.Status, p.Actions, p.Notices = StatusDeferred, []Action{}, []Notice{}
}

// validateUsers checks the structure the policy relies on; each problem names its field.
func validateUsers(users []User) error {
	var errs []error
	bad := func(field, format string, args ...any) { errs = append(errs, input.Errorf(field, format, args...)) }
	names := map[string]bool{}
	ids := map[string]bool{}
	for i, u := range users {
		f := fmt.Sprintf("users[%d]", i)
		switch {
		case strings.TrimSpace(u.UserName) == "":
			bad(f+".userName", "must not be empty")
		case names[u.UserName]:
			bad(f+".userName", "%q appears more than once", u.UserName)
		}
		names[u.UserName] = true
		if dup := u.Tags.duplicateKey(); dup != "" {
			bad(f+".tags", "%s are one tag key to IAM, which compares the tag keys of users case-insensitively", dup)
		}
		if len(u.Keys) > 2 {
			bad(f+".keys", "IAM allows at most 2 access keys per user, got %d", len(u.Keys))
		}
		for j, k := range u.Keys {
			kf := fmt.Sprintf("%s.keys[%d]", f, j)
			switch {
			case strings.TrimSpace(k.AccessKeyID) == "":
				bad(kf+".accessKeyId", "must not be empty")
			case ids[k.AccessKeyID]:
				bad(kf+".accessKeyId", "%q appears more than once", k.AccessKeyID)
			}
			ids[k.AccessKeyID] = true
			if k.Status != Active && k.Status != Inactive {
				bad(kf+".status", "must be %q or %q, got %q", Active, Inactive, k.Status)
			}
			if k.CreateDate.IsZero() {
				bad(kf+".createDate", "is required")
			}
		}
		for j, n := range u.NoticesSent {
			if !knownNoticeKind(n.Kind) {
				bad(fmt.Sprintf("%s.noticesSent[%d].kind", f, j), "unknown notice kind %q", n.Kind)
			}
		}
	}
	return errors.Join(errs...)
}

func knownNoticeKind(k NoticeKind) bool {
	switch k {
	case NewKeyIssued, DeactivationScheduled, KeyDeactivated, KeyDeleted, UnusedKeyDeleted, DeliveryFailed, HoldReleased:
		return true
	}
	return false
}

// AgeDays is the age in days the rules give a key created at t, at now (ageDays).
func AgeDays(t, now time.Time) int { return ageDays(t, now) }

// ageDays counts whole days from t to now; a t after now (clock skew) counts as 0.
// Ages count UTC calendar days, not 24-hour periods, so that every run of one day decides
// the same: a key created at 13:35 is not younger at a 13:30 run than at a 13:40 one.
func ageDays(t, now time.Time) int {
	d := int(midnight(now).Sub(midnight(t)) / day)
	return max(d, 0)
}

// midnight is the start of t's UTC day.
func midnight(t time.Time) time.Time {
	y, m, dd := t.UTC().Date()
	return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC)
}

// reached reports whether the UTC day of due has come: a step due on a day is taken by any
// run of that day.
func reached(now, due time.Time) bool { return !midnight(now).Before(midnight(due)) }

func days(n int) time.Duration { return time.Duration(n) * day }

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dateOf formats the calendar day (UTC) of an instant: the daily run of that day acts.
func dateOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
