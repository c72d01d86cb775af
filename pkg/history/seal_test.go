package history

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

func testSeal(t *testing.T, key string) *Seal {
	t.Helper()
	s, err := NewSeal([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const account, user = "111122223333", "alice"

func TestSignedTagVerifiesOnlyForItsAccountUserAndKey(t *testing.T) {
	s := testSeal(t, "the rotator's tag key, 32 bytes or more")
	value := "AKIAAAAAAAAAAAAAAAAA:2026-11-24:R"
	signed := s.Sign(account, user, DeactivatedTag, value)
	if !policy.ValidTagValue(signed) {
		t.Fatalf("signed value %q is not a valid IAM tag value", signed)
	}
	tests := []struct {
		name                   string
		account, user, key, in string
		ok                     bool
	}{
		{"as signed", account, user, DeactivatedTag, signed, true},
		{"user and key in another case (IAM compares them so)", account, "ALICE", "Key-Rotator:Deactivated", signed, true},
		{"unsigned", account, user, DeactivatedTag, value, false},
		{"another account", "444455556666", user, DeactivatedTag, signed, false},
		{"another user", account, "bob", DeactivatedTag, signed, false},
		{"another tag", account, user, NoticesTag, signed, false},
		{"value changed", account, user, DeactivatedTag, strings.Replace(signed, "2026-11-24", "2026-10-24", 1), false},
		{"signed under another key", account, user, DeactivatedTag, testSeal(t, "a key the forger guessed, 32 bytes long").Sign(account, user, DeactivatedTag, value), false},
		{"MAC only", account, user, DeactivatedTag, signed[len(value):], false},
		{"empty", account, user, DeactivatedTag, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := s.Open(tt.account, tt.user, tt.key, tt.in)
			if ok != tt.ok || ok && got != value {
				t.Errorf("Open(%q) = %q, %v; want ok=%v", tt.in, got, ok, tt.ok)
			}
		})
	}
}

func TestSignedNoticesOfTwoKeysFitAnIAMTagValue(t *testing.T) {
	s := testSeal(t, "the rotator's tag key, 32 bytes or more")
	var full []Sent
	for _, id := range []string{"AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB"} {
		for _, kind := range []policy.NoticeKind{policy.NewKeyIssued, policy.DeactivationScheduled, policy.KeyDeactivated} {
			full = append(full, Sent{policy.NoticeRef{Kind: kind, AccessKeyID: id}, today, AddressDigest("someone@example.com"), false})
		}
	}
	if signed := s.Sign(account, user, NoticesTag, FormatNotices(full)); !policy.ValidTagValue(signed) {
		t.Errorf("the signed notices of two keys (%d characters) are not a valid IAM tag value", len(signed))
	}
}

func TestOpenTagsTakesWhatTheRotatorDidNotSignAsAbsent(t *testing.T) {
	s := testSeal(t, "the rotator's tag key, 32 bytes or more")
	mark := "2026-11-25T13:00:00Z run-1"
	tags := map[string]string{
		"EmailID":             "alice@example.com",
		"Key-Rotator:Pending": s.Sign(account, user, PendingTag, mark), // IAM keeps the case it was written in
		NoticesTag:            "AKIAAAAAAAAAAAAAAAAA:DS:20261120:0a1b",
		UndeliverableTag:      s.Sign(account, "bob", UndeliverableTag, "alice@example.com"),
		otherPrefix + "other": "not the rotator's history",
	}
	untrusted := s.OpenTags(account, user, tags)
	want := map[string]string{"EmailID": "alice@example.com", PendingTag: mark, otherPrefix + "other": "not the rotator's history"}
	if !maps.Equal(tags, want) {
		t.Errorf("opened tags %v, want %v", tags, want)
	}
	if len(untrusted) != 2 || untrusted[NoticesTag] == "" || untrusted[UndeliverableTag] == "" {
		t.Errorf("untrusted %v, want the notices and the undeliverable tag", untrusted)
	}
}

const otherPrefix = "key-rotator:"

func TestNewSealRefusesAShortKey(t *testing.T) {
	if _, err := NewSeal([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}

// tagStore is a user's tags as IAM keeps them, for RecordNotices.
type tagStore struct{ tags map[string]string }

func (f *tagStore) ListUserTags(_ context.Context, _ *iam.ListUserTagsInput, _ ...func(*iam.Options)) (*iam.ListUserTagsOutput, error) {
	out := &iam.ListUserTagsOutput{}
	for k, v := range f.tags {
		out.Tags = append(out.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return out, nil
}

func (f *tagStore) TagUser(_ context.Context, in *iam.TagUserInput, _ ...func(*iam.Options)) (*iam.TagUserOutput, error) {
	for _, t := range in.Tags {
		f.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &iam.TagUserOutput{}, nil
}

var _ TagAPI = (*tagStore)(nil)

func TestRecordNoticesSignsAndDropsWhatItDidNotSign(t *testing.T) {
	s := testSeal(t, "the rotator's tag key, 32 bytes or more")
	forged := "AKIAAAAAAAAAAAAAAAAA:DS:20261101:" + AddressDigest("alice@example.com")
	store := &tagStore{tags: map[string]string{"EmailID": "alice@example.com", NoticesTag: forged}}
	ref := policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: "AKIABBBBBBBBBBBBBBBB"}
	if err := RecordNotices(context.Background(), store, s, account, user, "alice@example.com", []policy.NoticeRef{ref}, today, false, policy.Config{}); err != nil {
		t.Fatal(err)
	}
	got, ok := s.Open(account, user, NoticesTag, store.tags[NoticesTag])
	if want := FormatNotices([]Sent{{ref, today, AddressDigest("alice@example.com"), false}}); !ok || got != want {
		t.Errorf("notices tag %q (verified %v), want %q signed", store.tags[NoticesTag], ok, want)
	}
	if err := RecordNotices(context.Background(), store, nil, account, user, "alice@example.com", []policy.NoticeRef{ref}, today, false, policy.Config{}); err == nil {
		t.Error("notices recorded without a tag key")
	}
}

// TestUnconfirmedNoticeWarnsOfNothingUntilSentWhereBouncesAreSeen: a notice recorded by a run
// that could not see bounces is given as unconfirmed (no warning, its day still holds); the
// same notice sent later by a run that sees bounces replaces it, dated that day; a later
// unconfirmed send does not replace a confirmed record. Lower-case codes cost no room.
func TestUnconfirmedNoticeWarnsOfNothingUntilSentWhereBouncesAreSeen(t *testing.T) {
	s := testSeal(t, "the rotator's tag key, 32 bytes or more")
	const addr = "alice@example.com"
	store := &tagStore{tags: map[string]string{"EmailID": addr}}
	ref := policy.NoticeRef{Kind: policy.DeactivationScheduled, AccessKeyID: "AKIABBBBBBBBBBBBBBBB"}
	read := func(on time.Time) policy.User {
		value, ok := s.Open(account, user, NoticesTag, store.tags[NoticesTag])
		if !ok {
			t.Fatalf("notices tag %q does not verify", store.tags[NoticesTag])
		}
		u := policy.User{UserName: user, Tags: policy.Tags{NoticesTag: value}}
		Apply(&u, on, addr)
		return u
	}
	day1, day3 := today.AddDate(0, 0, -5), today.AddDate(0, 0, -3)
	for _, rec := range []struct {
		on          time.Time
		unconfirmed bool
	}{{day1, true}, {day3, false}, {today, true}} {
		if err := RecordNotices(context.Background(), store, s, account, user, addr, []policy.NoticeRef{ref}, rec.on, rec.unconfirmed, policy.Config{}); err != nil {
			t.Fatal(err)
		}
		u := read(today.AddDate(0, 0, 1))
		switch rec.on {
		case day1:
			if len(u.NoticesSent) != 0 || !slices.Equal(u.NoticesUnconfirmed, []policy.NoticeRef{ref}) {
				t.Errorf("sent unconfirmed: NoticesSent %v, NoticesUnconfirmed %v; want it unconfirmed only", u.NoticesSent, u.NoticesUnconfirmed)
			}
		default:
			if !slices.Equal(u.NoticesSent, []policy.NoticeRef{ref}) || len(u.NoticesUnconfirmed) != 0 {
				t.Errorf("after a confirmed send (record of %s): NoticesSent %v, NoticesUnconfirmed %v", rec.on.Format(time.DateOnly), u.NoticesSent, u.NoticesUnconfirmed)
			}
			if got := ParseNotices(store.tags[NoticesTag]); len(got) != 1 || !SameDay(got[0].On, day3) {
				t.Errorf("the confirmed record is %v; want it dated %s", got, day3.Format(time.DateOnly))
			}
		}
	}
	confirmed := FormatNotices([]Sent{{ref, today, AddressDigest(addr), false}})
	if unconfirmed := FormatNotices([]Sent{{ref, today, AddressDigest(addr), true}}); len(unconfirmed) != len(confirmed) {
		t.Errorf("an unconfirmed entry %q is longer than a confirmed one %q", unconfirmed, confirmed)
	}
}
