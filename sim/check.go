package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// checkWrite checks one IAM write of the rotator against the invariants, before it takes
// effect.
func (s *sim) checkWrite(c awsmodel.Call) {
	user, keyID := writeTarget(c.Input)
	if in, ok := c.Input.(*iam.UpdateAccessKeyInput); ok && in.Status != types.StatusTypeInactive {
		s.violate("the rotator only deactivates", "UpdateAccessKey to "+string(in.Status))
	}
	o := s.owners[c.Account+"/"+user]
	if o == nil {
		return
	}
	tags := s.w.Tags(o.account, o.user)
	if policy.Exempt(tags, s.policy) {
		s.violate("exempt users get zero writes", fmt.Sprintf("%s %s of exempt user %s", c.Operation, keyID, user))
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
		// A key the owner holds and may use; not an orphan (the rotator's, never delivered),
		// nor one the owner made, unused, within rotate.OrphanWindow of a creation of the
		// rotator whose outcome was unknown (IAM cannot tell them apart: counted, allowed).
		mark, marked := s.marks[c.Account+"/"+user]
		ambiguous := marked && k.LastUsed == nil && !k.Created.Before(mark.Add(-time.Minute)) && !k.Created.After(mark.Add(rotate.OrphanWindow))
		if ambiguous && o.held[keyID] {
			s.res.Faults["owner-key-taken-for-orphan"]++
		} else if k.Status == types.StatusTypeActive && !s.unused(k, tags) && o.held[keyID] {
			s.violate("no active key in use is deleted", fmt.Sprintf("%s's active key %s (created %s, last used %v)", user, keyID, k.Created.Format(time.DateOnly), k.LastUsed))
		}
		if s.unused(k, tags) {
			return // rule 2: a key unused for unused-at days goes, whoever holds it
		}
	}
	if app, _ := s.appReads(o); keyID == app.AccessKeyID && s.rotatorKeys[keyID] != "" && k.Status == types.StatusTypeActive && !s.appServed(o) {
		o.lapsed = keyID
	} else if keyID == app.AccessKeyID && s.rotatorKeys[keyID] != "" && k.Status == types.StatusTypeActive {
		s.violate("a machine user's application keeps an active key", fmt.Sprintf("%s %s of %s: the key its application reads from %s; its story:\n    %s",
			c.Operation, keyID, user, o.app, strings.Join(s.trace[keyID], "\n    ")))
	}
	if k.Status != types.StatusTypeActive || !s.deliverable(o) || s.givenUp(o) {
		return
	}
	if o.held[keyID] && !slices.ContainsFunc(keys, func(other awsmodel.Key) bool {
		return other.AccessKeyID != keyID && other.Status == types.StatusTypeActive && o.held[other.AccessKeyID]
	}) {
		s.violate("an owner with a usable email keeps an active key they received",
			fmt.Sprintf("%s %s of %s leaves the owner no active key they hold (keys %v)", c.Operation, keyID, user, keyIDs(keys)))
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
	if given := s.w.Tags(o.account, o.user)[history.UndeliverableTag]; given != "" && (strings.EqualFold(given, s.address(o)) || given == appsecret.Scheme+o.app) {
		return true
	}
	for _, sec := range s.w.SecretsList() {
		if sec.Tags["key-rotator:user"] == o.user && strings.Contains(sec.Name, "/"+o.account+"/") && s.pastGrace(sec.Tags["key-rotator:deactivate-on"]) {
			return true
		}
	}
	return false
}

// checkKeysAccounted: every Active key the rotator created is held by its owner, waiting in
// its hand-off secret (scheduled for deletion or not: a run lists it, and can restore it), or
// covered by a pending mark (an orphan the next run deletes): never left active unknown.
func (s *sim) checkKeysAccounted() {
	stored := map[string]bool{}
	for _, sec := range s.w.SecretsList() {
		if m := secretKeyID.FindStringSubmatch(sec.Name); m != nil {
			stored[m[1]] = true
		}
	}
	for _, o := range s.sortedOwners() {
		_, marked := s.w.Tags(o.account, o.user)[history.PendingTag]
		for _, k := range s.w.Keys(o.account, o.user) {
			if _, made := s.rotatorKeys[k.AccessKeyID]; made && k.Status == types.StatusTypeActive && !o.held[k.AccessKeyID] && !stored[k.AccessKeyID] && !marked {
				s.violate("a created key is never lost", fmt.Sprintf("%s's key %s is neither delivered, nor stored, nor marked; its story:\n    %s",
					o.user, k.AccessKeyID, strings.Join(append(s.trace[k.AccessKeyID], s.trace[o.account+"/"+o.user]...), "\n    ")))
			}
		}
	}
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
		case s.rotatorKeys[app.AccessKeyID] == "" && s.keyOwner[app.AccessKeyID] == nil, app.AccessKeyID == o.lapsed:
			// the original value (the application team's, under the ordinary rules), or a key
			// lost while the secret refused new keys
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
