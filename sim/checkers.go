package sim

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// The invariant checks, one type per family of invariants, each in a file of its own; they
// read the world and what the simulation observed of it (sim), and keep what only their
// family needs:
//   - keyChecks (checkkeys.go): what the rotator's IAM writes do to keys;
//   - tagChecks (checktags.go): the rotator's own tags;
//   - toldChecks (checktold.go): what owners are told, and when;
//   - deliveryChecks (checkdelivery.go): a new key's way to its owner or application;
//   - runChecks (checkruns.go): the runs themselves;
//   - leakChecks (checkleaks.go): no secret anywhere.
type checkers struct {
	keys     keyChecks
	tags     tagChecks
	told     *toldChecks
	delivery deliveryChecks
	runs     runChecks
	leaks    leakChecks
}

func newCheckers(s *sim) checkers {
	return checkers{keys: keyChecks{s}, tags: tagChecks{s}, told: &toldChecks{sim: s, days: newToldDays()},
		delivery: deliveryChecks{s}, runs: runChecks{s}, leaks: leakChecks{s}}
}

// write checks one IAM write of the rotator against the invariants, before it takes effect.
func (c checkers) write(call awsmodel.Call) {
	s := c.keys.sim
	user, keyID := call.Target()
	c.keys.status(call)
	o := s.owners[call.Account+"/"+user]
	if o == nil {
		return
	}
	tags := s.tags(o)
	c.keys.exempt(call, o, tags)
	if in, ok := call.Input.(*iam.TagUserInput); ok {
		c.tags.signed(o, in)
	}
	if call.Operation == "CreateAccessKey" {
		c.told.created(o)
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
	c.keys.held(call, o, k, tags)
	c.told.notBefore(call, o, k)
	if call.Operation == "DeleteAccessKey" && c.keys.deletion(call, o, k, tags) {
		return
	}
	if k.Status == types.StatusTypeActive {
		c.told.before(call, o, k, keys, tags)
	}
	if k.Status != types.StatusTypeActive || !s.deliverable(o) || s.givenUp(o) {
		return
	}
	c.keys.keepsOne(call, o, k, keys)
	if call.Operation == "UpdateAccessKey" {
		c.told.promised(o, k, keys, tags)
	}
}

// afterDay runs the checks of the state a day's runs leave; clean says a fault-free re-run
// ended the day.
func (c checkers) afterDay(clean bool) {
	c.delivery.appSecrets()
	c.delivery.accounted()
	c.told.afterDay(clean)
	c.delivery.boundedWait(clean)
}

// What the checks read of the world, whatever their family.
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

// deactivatedByRotator reports whether the rotator deactivated key id (keyChecks and toldChecks checked it).
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
	if given != "" && (strings.EqualFold(given, s.address(o)) || o.app != "" && given == appsecret.TagValue(o.app)) {
		return true
	}
	for _, sec := range s.w.SecretsList() {
		if sec.Tags[handoff.UserTag] == o.user && strings.Contains(sec.Name, "/"+o.account+"/") && s.pastGrace(sec.Tags[handoff.DeactivateOnTag]) {
			return true
		}
	}
	return false
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

// lastResult says what the rotator last decided for o's user, for a violation's detail.
func (s *sim) lastResult(o *owner) string {
	b, _ := json.Marshal(s.lastPlan[o.account+"/"+o.user])
	return string(b)
}
