package sim

import (
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// morning: the applications use the keys their owners hold, and some owners act on their
// keys and tags, before the daily run.
func (s *sim) morning() {
	w := s.cfg.World
	s.sesOutage = s.fault(s.cfg.Faults.SESOutage)
	s.suppressionSettings()
	if w.GitHubStore > 0 {
		s.gitHubInstallations()
	}
	for _, o := range s.sortedOwners() {
		app, _ := s.appReads(o)
		for _, k := range s.w.Keys(o.account, o.user) {
			// A machine user's application uses the key its secret holds; other owners, theirs.
			// A pair whose halves are not one key's (a GitHub store half written) authenticates
			// nothing: IAM records no use.
			uses := o.held[k.AccessKeyID] && o.app == "" || k.AccessKeyID == app.AccessKeyID && app.SecretAccessKey == s.secretOf[k.AccessKeyID]
			if _, made := s.rotatorKeys[k.AccessKeyID]; uses && made && s.slowConsumer(o) && s.now.Sub(k.Created) < time.Duration(w.SlowConsumerDays)*24*time.Hour {
				s.happened("slow-consumer-leaves-new-key-unused")
				uses = false
			}
			if uses && k.Status == types.StatusTypeActive && s.chance(w.KeyUse) {
				if _, gitHub := gitHubOf(o); gitHub && k.LastUsed == nil && s.rotatorKeys[k.AccessKeyID] != "" {
					s.happened("workflow-first-uses-key-from-github")
				}
				must(s.w.UseKey(o.account, k.AccessKeyID, s.now.Add(time.Hour), "s3", "us-east-1"))
			}
		}
		if s.chance(w.OwnerActs) {
			s.ownerActs(o)
		}
		if s.chance(w.TagForged) {
			s.forgeTag(o)
		}
		if tags := s.w.Tags(o.account, o.user); len(tags) >= policy.MaxTagsPerUser-2 && s.chance(w.TidyTags) {
			s.happened("owner-removes-tags")
			removed := 0
			for _, k := range slices.Sorted(maps.Keys(tags)) {
				if strings.HasPrefix(k, "CostCenter") && removed < 2 {
					must(s.w.RemoveTag(o.account, o.user, k))
					removed++
				}
			}
		}
		s.application(o)
		if addr := s.address(o); addr != "" && s.chance(w.MailboxGone) {
			s.happened("mailbox-gone")
			s.w.SetBounce(addr, true) // the mailbox is gone for a while
		} else if addr != "" && s.chance(w.MailboxBack) {
			s.w.SetBounce(addr, false) // the mailbox is back; SES still suppresses it
		}
	}
	s.operator()
}

// suppressionSettings is the operator changing the SES settings that decide whether a bounce
// of the rotator's mail reaches the account-level suppression list (World.BouncesUnsuppressed,
// BouncesSuppressedAgain).
func (s *sim) suppressionSettings() {
	w := s.cfg.World
	bounces := []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint}
	complaints := []sestypes.SuppressionListReason{sestypes.SuppressionListReasonComplaint}
	switch {
	case !s.bouncesOff && s.chance(w.BouncesUnsuppressed):
		s.bouncesOff = true
		if s.chance(0.5) {
			s.happened("bounces-unsuppressed-by-configuration-set")
			s.w.SetConfigurationSet(configurationSet, &sestypes.SuppressionOptions{SuppressedReasons: complaints})
		} else {
			s.happened("bounces-unsuppressed-by-account")
			s.w.SetConfigurationSet(configurationSet, nil) // no override: the account's reasons govern
			s.w.SetSuppressionReasons(complaints...)
		}
	case s.bouncesOff && s.chance(w.BouncesSuppressedAgain):
		s.bouncesOffLast = s.day
		s.bouncesOff = false
		s.happened("bounces-suppressed-again")
		s.w.SetConfigurationSet(configurationSet, &sestypes.SuppressionOptions{SuppressedReasons: bounces})
		s.w.SetSuppressionReasons(bounces...)
	}
}

// rotationDays are the RotationDays tag values owners give: shorter limits, one below
// three notice periods, one longer than the organization's, and malformed ones.
var rotationDays = []string{"30", "45", "60", "7", "365", "abc", "-5"}

// ownerActions name what ownerActs does, by its draw.
var ownerActions = []string{"owner-deactivates-key", "owner-reactivates-key", "owner-deletes-key", "owner-creates-key",
	"owner-changes-email", "owner-toggles-exempt", "pending-mark-forged", "owner-changes-rotation-days", "opt-in-toggled"}

// ownerActs makes one owner change their own keys or tags, as owners do.
func (s *sim) ownerActs(o *owner) {
	keys := s.w.Keys(o.account, o.user)
	act := s.rng.IntN(8)
	if o.app != "" {
		act = 4 + s.rng.IntN(5) // a machine user's keys are its application's: its owner changes tags only
	}
	s.happened(ownerActions[act])
	o.actedOn = s.day
	switch act {
	case 0: // deactivate a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			if k.Status == types.StatusTypeActive {
				must(s.w.SetKeyStatus(o.account, k.AccessKeyID, types.StatusTypeInactive))
				s.deactivatedOn[k.AccessKeyID] = s.day
				s.note(k.AccessKeyID, "owner deactivates")
			}
		}
	case 1: // reactivate a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			must(s.w.SetKeyStatus(o.account, k.AccessKeyID, types.StatusTypeActive))
			s.reactivatedOn[k.AccessKeyID] = s.day
			s.note(k.AccessKeyID, "owner activates")
		}
	case 2: // delete a key
		if len(keys) > 0 {
			k := keys[s.rng.IntN(len(keys))]
			must(s.w.DeleteKey(o.account, k.AccessKeyID))
			s.note(k.AccessKeyID, "owner deletes")
		}
	case 3: // create a key of their own
		if len(keys) < 2 {
			id, secretKey, err := s.w.AddKey(o.account, o.user, s.now, types.StatusTypeActive)
			must(err)
			o.held[id] = true
			s.secrets = append(s.secrets, secretKey)
			s.secretOf[id] = secretKey
		}
	case 4: // change the email tag
		s.setTag(o, s.spell("EmailID"), fmt.Sprintf("%s.%d@%s", o.user, s.rng.IntN(1000), domain))
	case 6: // anyone allowed iam:TagUser sets the rotator's pending mark: unreadable, or a time
		// (where there is none: overwriting a live mark can hide an orphan, a key nobody
		// holds that rule 2 deletes once unused for U days; docs/policy.md says so)
		if _, _, marked := s.tags(o).Lookup(history.PendingTag); marked {
			return
		}
		mark := "garbage"
		if s.rng.IntN(2) == 0 {
			mark = s.now.Add(-time.Duration(s.rng.IntN(48)) * time.Hour).Format(time.RFC3339)
		}
		s.setTag(o, history.PendingTag, mark)
	case 7: // shorten their own limit, change it, or drop it
		before, _ := s.policy.ForUser(s.tags(o))
		if s.rng.IntN(3) == 0 {
			must(s.w.RemoveTag(o.account, o.user, s.spell(policy.RotationDaysTag)))
		} else {
			s.setTag(o, s.spell(policy.RotationDaysTag), rotationDays[s.rng.IntN(len(rotationDays))])
		}
		if after, _ := s.policy.ForUser(s.tags(o)); after.Timeline().DeactivateAt < before.Timeline().DeactivateAt {
			o.shortenedOn = s.day
		}
	case 8: // the application team takes its secret's opt-in away, or gives it back
		if _, exists := s.store(o); !exists {
			return // deleted by its application (World.AppDeletesSecret)
		}
		if _, tags := s.appReads(o); tags[appsecret.OptInTag] == o.user {
			s.setOptIn(o, "")
		} else {
			s.setOptIn(o, o.user)
		}
	case 5: // become exempt, or stop being exempt
		if policy.Exempt(s.tags(o), s.policy) {
			must(s.w.RemoveTag(o.account, o.user, s.spell("Exempt")))
		} else {
			s.setTag(o, s.spell("Exempt"), "TRUE")
		}
	}
}

// ownerActsDuringScan: while the rotator reads one user, the owner of another user of the
// account changes their keys (a long scan meets concurrent changes).
func (s *sim) ownerActsDuringScan(c awsmodel.Call) {
	reading := aws.ToString(c.Input.(*iam.ListAccessKeysInput).UserName)
	others := slices.DeleteFunc(s.sortedOwners(), func(o *owner) bool { return o.account != c.Account || o.user == reading })
	if len(others) > 0 {
		s.res.Faults["owner-acts-during-scan"]++
		s.ownerActs(others[s.frng.IntN(len(others))])
	}
}

// forgedTags name what forgeTag writes, by its draw.
var forgedTags = []string{"forged-notices", "forged-deactivated", "forged-pending", "forged-undeliverable"}

// forgeTag: someone allowed iam:TagUser in the member account, who cannot read the rotator's
// tag key, writes one of the rotator's tags on o's user, in the rotator's format, with the
// values that would hasten an action if the rotator believed them: every notice delivered
// days ago to the owner's address now (the digest is computable), every Inactive key
// deactivated long ago and not by the rotator, a pending mark over the user's youngest key,
// the owner's address given up. Unsigned, or signed under a guessed key. A live mark of the
// rotator is left alone (overwriting it hides an orphan, docs/policy.md says so).
func (s *sim) forgeTag(o *owner) {
	tags, keys := s.w.Tags(o.account, o.user), s.w.Keys(o.account, o.user)
	kind := s.rng.IntN(len(forgedTags))
	var key, value string
	switch kind {
	case 0:
		key = history.NoticesTag
		var sent []history.Sent
		for _, k := range keys {
			for _, n := range []policy.NoticeKind{policy.NewKeyIssued, policy.DeactivationScheduled, policy.KeyDeactivated} {
				sent = append(sent, history.Sent{NoticeRef: policy.NoticeRef{Kind: n, AccessKeyID: k.AccessKeyID},
					On: s.now.AddDate(0, 0, -5), To: history.AddressDigest(s.address(o))})
			}
		}
		value = history.FormatNotices(sent)
	case 1:
		key = history.DeactivatedTag
		inactive := map[string]history.Inactive{}
		for _, k := range keys {
			if k.Status == types.StatusTypeInactive {
				inactive[k.AccessKeyID] = history.Inactive{Since: s.now.AddDate(0, 0, -30)}
			}
		}
		value = history.FormatDeactivated(inactive)
	case 2:
		key = history.PendingTag
		if _, mark, ok := policy.Tags(tags).Lookup(key); ok {
			if _, signed := s.seal.Open(o.account, o.user, key, mark); signed {
				return
			}
		}
		if len(keys) == 0 {
			return
		}
		youngest := slices.MaxFunc(keys, func(a, b awsmodel.Key) int { return a.Created.Compare(b.Created) })
		value = youngest.Created.Add(-30*time.Second).UTC().Format(time.RFC3339) + " forged"
	case 3:
		key, value = history.UndeliverableTag, s.address(o)
	}
	if value == "" {
		return
	}
	if s.rng.IntN(2) == 0 {
		guessed, err := history.NewSeal([]byte(fmt.Sprintf("a key the forger guessed, number %020d", s.rng.Int64())))
		must(err)
		value = guessed.Sign(o.account, o.user, key, value)
	}
	if len(value) > 256 {
		return
	}
	s.happened(forgedTags[kind])
	// What the rotator's own record did not say (and cannot say later: an entry names the day
	// it was made) must never reach a record it signs.
	current, _ := s.seal.Open(o.account, o.user, key, policy.Tags(tags).Get(key))
	plain, _, _ := strings.Cut(value, " @")
	for _, entry := range strings.Fields(plain) {
		if (key == history.NoticesTag || key == history.DeactivatedTag) && !slices.Contains(strings.Fields(current), entry) {
			if s.forged[o.account+"/"+o.user] == nil {
				s.forged[o.account+"/"+o.user] = map[string]bool{}
			}
			s.forged[o.account+"/"+o.user][entry] = true
		}
	}
	s.setTag(o, key, value)
	s.note(o.account+"/"+o.user, "someone forges %s=%s", key, value)
	if key == history.NoticesTag {
		o.noticesForgedOn = s.day
	}
}

// setTag sets a tag of o's user as its owner (or anyone allowed iam:TagUser) does: at IAM's
// 50-tag quota a new tag is refused (LimitExceeded), and the owner goes without it.
func (s *sim) setTag(o *owner, key, value string) {
	tags := s.w.Tags(o.account, o.user)
	if _, _, carried := policy.Tags(tags).Lookup(key); !carried && len(tags) >= policy.MaxTagsPerUser {
		s.happened("tag-refused-at-the-limit")
		return
	}
	must(s.w.SetTag(o.account, o.user, key, value))
}

// slowConsumer reports whether o's applications are slow to pick a new key up
// (World.SlowConsumer), from the seed and the user alone.
func (s *sim) slowConsumer(o *owner) bool {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s/%s", s.cfg.Seed, o.account, o.user)
	return float64(h.Sum64()%1_000_000)/1_000_000 < s.cfg.World.SlowConsumer
}
