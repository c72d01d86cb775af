// Package history keeps the rotator's record on each IAM user, in the user's own tags, of
// what IAM does not remember: which notices the owner received and when, the day each key
// was first known to be inactive, and the intent of a key creation in progress. ScanAndRotate
// reads and prunes it; NotifyUser adds a notice only once the owner was sent it.
package history

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// The tags the rotator keeps on IAM users, all under config.RotatorTagKeyPrefix: the only
// tags the member role may write.
const (
	// NoticesTag lists the notices delivered for the user's current keys, as
	// "KEYID:CODE:YYYYMMDD" entries separated by spaces (rule 5: once per key and kind). A
	// code in lower case marks a notice sent by a run that could not see bounces
	// (Sent.Unconfirmed): it costs no character of the tag's 256.
	NoticesTag = config.NoticesTag
	// PendingTag marks an intended CreateAccessKey (its value is the intent's time, RFC 3339)
	// until the new key is stored for delivery: a later run deletes any key created since
	// then that has no hand-off secret and was never used.
	PendingTag = config.RotatorTagKeyPrefix + "pending"
	// DeactivatedTag remembers the day each of the user's keys was first known inactive, as
	// "KEYID:YYYY-MM-DD" entries ("KEYID:YYYY-MM-DD:R" when the rotator deactivated it, ":U" when
	// it may have: Inactive.Unsure) separated by spaces: IAM does not keep it, and no key is
	// deleted on the day it was deactivated.
	DeactivatedTag = config.RotatorTagKeyPrefix + "deactivated"
	// UndeliverableTag holds the owner address the rotator gave up on: a new key could not be
	// delivered to it within the bounded wait. While the user's email tag still gives that
	// address, the owner has no usable email (rule 6); a new address resumes rotation.
	UndeliverableTag = config.RotatorTagKeyPrefix + "undeliverable"
)

// noticeCodes keep the notices tag within IAM's 256-character tag values: two keys with
// three dated notices each fit.
var noticeCodes = map[policy.NoticeKind]string{
	policy.NewKeyIssued:          "NK",
	policy.DeactivationScheduled: "DS",
	policy.KeyDeactivated:        "KD",
	policy.KeyDeleted:            "KX",
	policy.UnusedKeyDeleted:      "UX",
	policy.TagsFull:              "TF",
	policy.DeliveryFailed:        "DF",
	policy.HoldPlaced:            "HP",
	policy.HoldReleased:          "HR",
}

const compactDay = "20060102"

// Sent is one delivered notice, the UTC day it was delivered (zero when an entry of an older
// format did not say: taken as earlier than any day that matters) and a short digest of the
// address it went to (empty when not said): a notice counts only for the address it reached.
//
// Unconfirmed marks a notice sent by a run that could not see bounces
// (workflow.Notification.Unconfirmed): SES lists an address only for bounces of mail sent
// while it suppresses BOUNCE, so no later run can tell whether it arrived. It warns before no
// action (Apply gives it as policy.User.NoticesUnconfirmed); the same notice sent later by a
// run that sees bounces replaces it.
type Sent struct {
	policy.NoticeRef
	On          time.Time
	To          string
	Unconfirmed bool
}

var digestPattern = regexp.MustCompile(`^[0-9a-f]{4}$`)

// AddressDigest is the short digest the notices tag keeps of an address (lower-cased): enough
// to tell that the owner's address changed since, too short to recover it.
func AddressDigest(address string) string {
	if address == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(strings.ToLower(address)))
	return hex.EncodeToString(sum[:2])
}

// ParseNotices reads the notices tag; an entry it does not understand is dropped (at worst a
// notice is sent again, and the action it announces waits for it).
func ParseNotices(tag string) []Sent {
	var out []Sent
	for _, entry := range strings.Fields(tag) {
		parts := strings.Split(entry, ":")
		if len(parts) < 2 || len(parts) > 4 || parts[0] == "" {
			continue
		}
		var on time.Time
		if len(parts) >= 3 {
			t, err := time.Parse(compactDay, parts[2])
			if err != nil {
				continue
			}
			on = t
		}
		var to string
		if len(parts) == 4 {
			if !digestPattern.MatchString(parts[3]) {
				continue
			}
			to = parts[3]
		}
		for kind, c := range noticeCodes {
			if c == parts[1] || strings.ToLower(c) == parts[1] {
				out = append(out, Sent{NoticeRef: policy.NoticeRef{Kind: kind, AccessKeyID: parts[0]}, On: on, To: to, Unconfirmed: c != parts[1]})
			}
		}
	}
	return out
}

// FormatNotices writes the notices tag in the given order, keeping the first entry of each
// key and kind.
func FormatNotices(sent []Sent) string {
	var entries []string
	seen := map[policy.NoticeRef]bool{}
	for _, s := range sent {
		if seen[s.NoticeRef] {
			continue
		}
		seen[s.NoticeRef] = true
		code := noticeCodes[s.Kind]
		if s.Unconfirmed {
			code = strings.ToLower(code)
		}
		entry := s.AccessKeyID + ":" + code
		if !s.On.IsZero() {
			entry += ":" + s.On.UTC().Format(compactDay)
			if s.To != "" {
				entry += ":" + s.To
			}
		}
		entries = append(entries, entry)
	}
	return strings.Join(entries, " ")
}

// Inactive is what the deactivated tag says of one key.
type Inactive struct {
	Since     time.Time // the UTC day the key was first known inactive
	ByRotator bool      // the rotator deactivated it, or may have (Unsure): it owes the owner a KeyDeactivated notice
	// Unsure: ByRotator only because the record the rotator read was not its own (forged), so
	// the key may be one it deactivated: its deletion waits as for one (a forged record only
	// postpones), but nothing says the rotator deactivated it, and a hold does not make it
	// active again as the key the rotator deactivated (its owner may have, make faults -rare
	// seed 11).
	Unsure bool
}

// ParseDeactivated reads the deactivated tag; an entry it does not understand is dropped (the
// key is then recorded anew as inactive since today, which delays its deletion by a day).
// "id:day:R" is a key the rotator deactivated, "id:day:U" one it may have (Inactive.Unsure).
func ParseDeactivated(tag string) map[string]Inactive {
	out := map[string]Inactive{}
	for _, entry := range strings.Fields(tag) {
		parts := strings.Split(entry, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || len(parts) == 3 && parts[2] != "R" && parts[2] != "U" {
			continue
		}
		if t, err := time.Parse(time.DateOnly, parts[1]); err == nil {
			out[parts[0]] = Inactive{Since: t, ByRotator: len(parts) == 3, Unsure: len(parts) == 3 && parts[2] == "U"}
		}
	}
	return out
}

// FormatDeactivated writes the deactivated tag, sorted by key ID.
func FormatDeactivated(keys map[string]Inactive) string {
	var entries []string
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		entry := id + ":" + keys[id].Since.UTC().Format(time.DateOnly)
		switch {
		case keys[id].ByRotator && keys[id].Unsure:
			entry += ":U"
		case keys[id].ByRotator:
			entry += ":R"
		}
		entries = append(entries, entry)
	}
	return strings.Join(entries, " ")
}

// Apply gives u what its tags remember: the notices sent to the owner's address now (and
// which of them today), and the day each Inactive key was first known inactive. It reports
// the Inactive keys the tag does not cover yet: they are taken as inactive since today, and
// the caller records that before any write, so that none of them is deleted today.
func Apply(u *policy.User, today time.Time, address string) (newlyInactive []string) {
	u.NoticesSent, u.NoticesSentToday, u.NoticesUnconfirmed = nil, nil, nil
	sent := ParseNotices(u.Tags.Get(NoticesTag))
	for _, s := range sent {
		if s.To != "" && s.To != AddressDigest(address) {
			continue // it went to an address the owner no longer gives
		}
		if Superseded(sent, s, today) {
			continue
		}
		if s.Unconfirmed {
			// Perhaps never delivered: it warns before no action, but a day it gave holds.
			u.NoticesUnconfirmed = append(u.NoticesUnconfirmed, s.NoticeRef)
			continue
		}
		u.NoticesSent = append(u.NoticesSent, s.NoticeRef)
		if SameDay(s.On, today) {
			u.NoticesSentToday = append(u.NoticesSentToday, s.NoticeRef)
		}
	}
	recorded := ParseDeactivated(u.Tags.Get(DeactivatedTag))
	for i, k := range u.Keys {
		if k.Status != policy.Inactive {
			continue
		}
		in, ok := recorded[k.AccessKeyID]
		if !ok {
			in = Inactive{Since: today}
			newlyInactive = append(newlyInactive, k.AccessKeyID)
		}
		since := in.Since
		u.Keys[i].DeactivatedDate, u.Keys[i].DeactivatedByRotator = &since, in.ByRotator
	}
	return newlyInactive
}

// Superseded reports whether s, a DeliveryFailed notice, was followed by the key's
// NewKeyIssued notice delivered on a later day, before today: the new key reached its
// destination since, and that notice gave the day the key goes, which replaces the one s
// gave. Not before the day after that notice: a same-day re-run changes no record.
func Superseded(sent []Sent, s Sent, today time.Time) bool {
	return s.Kind == policy.DeliveryFailed && slices.ContainsFunc(sent, func(o Sent) bool {
		return o.Kind == policy.NewKeyIssued && o.AccessKeyID == s.AccessKeyID && o.On.After(s.On) && !SameDay(o.On, today)
	})
}

// SameDay reports whether a and b fall on the same UTC calendar day.
func SameDay(a, b time.Time) bool {
	return a.UTC().Format(time.DateOnly) == b.UTC().Format(time.DateOnly)
}

// TagAPI is what recording a delivered notice needs of the member account's IAM.
type TagAPI interface {
	iam.ListUserTagsAPIClient
	TagUser(context.Context, *iam.TagUserInput, ...func(*iam.Options)) (*iam.TagUserOutput, error)
}

// RecordNotices adds notices delivered to address on day on to the user's notices tag in
// accountID, signed by seal (a value it does not verify is replaced); unconfirmed: sent by a
// run that could not see bounces (Sent.Unconfirmed). A notice already recorded for the same
// address keeps its first day, unless that record is unconfirmed and this one is not. A user
// exempt now (cfg's exempt tag) gets no write.
func RecordNotices(ctx context.Context, api TagAPI, seal *Seal, accountID, userName, address string, refs []policy.NoticeRef, on time.Time, unconfirmed bool, cfg policy.Config) error {
	if len(refs) == 0 {
		return nil
	}
	if seal == nil {
		return fmt.Errorf("record the notices delivered to %s: no tag key to sign them with", userName)
	}
	tags := policy.Tags{}
	pages := iam.NewListUserTagsPaginator(api, &iam.ListUserTagsInput{UserName: &userName})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("read the notice history of %s: %w", userName, err)
		}
		for _, t := range page.Tags {
			tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	if policy.Exempt(tags, cfg.WithDefaults()) {
		return nil
	}
	_, forged := seal.OpenTags(accountID, userName, tags)[NoticesTag]
	current := tags.Get(NoticesTag)
	to := AddressDigest(address)
	sent := slices.DeleteFunc(ParseNotices(current), func(s Sent) bool {
		return (s.To != to || s.Unconfirmed && !unconfirmed) && slices.Contains(refs, s.NoticeRef)
	})
	for _, r := range refs {
		sent = append(sent, Sent{NoticeRef: r, On: on, To: to, Unconfirmed: unconfirmed})
	}
	value := FormatNotices(sent)
	if value == current && !forged {
		return nil
	}
	signed := seal.Sign(accountID, userName, NoticesTag, value)
	if _, err := api.TagUser(ctx, &iam.TagUserInput{UserName: &userName, Tags: []types.Tag{{Key: aws.String(NoticesTag), Value: &signed}}}); err != nil {
		return fmt.Errorf("record the notices delivered to %s: %w", userName, err)
	}
	return nil
}
