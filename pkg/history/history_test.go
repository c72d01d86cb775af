package history

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

var today = time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)

func TestNoticesTagRoundTrip(t *testing.T) {
	old, other := "AKIAOLD0000000000001", "AKIAOTHER00000000002"
	sent := []Sent{
		{policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: old}, today.AddDate(0, 0, -10), "0a1b", false},
		{policy.NoticeRef{Kind: policy.KeyDeactivated, AccessKeyID: old}, today, "", false},
		{policy.NoticeRef{Kind: policy.DeactivationScheduled, AccessKeyID: other}, time.Time{}, "", false},
		{policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: old}, today, "", false}, // a duplicate keeps its first day
	}
	tag := FormatNotices(sent)
	if want := old + ":NK:20261115:0a1b " + old + ":KD:20261125 " + other + ":DS"; tag != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	want := slices.Clone(sent[:3])
	want[0].On, want[1].On = time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	if got := ParseNotices(tag); !slices.Equal(got, want) {
		t.Errorf("parsed %v, want %v", got, want)
	}
	// Two keys with three dated, addressed notices each stay within IAM's 256-character tag values.
	var full []Sent
	for _, id := range []string{"AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB"} {
		for _, kind := range []policy.NoticeKind{policy.NewKeyIssued, policy.DeactivationScheduled, policy.KeyDeactivated} {
			full = append(full, Sent{policy.NoticeRef{Kind: kind, AccessKeyID: id}, today, AddressDigest("someone.with.a.long.address@example.com"), false})
		}
	}
	if n := len(FormatNotices(full)); n > 256 {
		t.Errorf("a full notices tag is %d characters, over IAM's 256", n)
	}
}

func TestParseNoticesDropsWhatItDoesNotKnow(t *testing.T) {
	got := ParseNotices("  AKIA1:NK junk AKIA2:ZZ :KD AKIA3:UX AKIA4:DS:2026-11-25 AKIA5:KD:20261125:x")
	want := []Sent{{NoticeRef: policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: "AKIA1"}},
		{NoticeRef: policy.NoticeRef{Kind: policy.UnusedKeyDeleted, AccessKeyID: "AKIA3"}}}
	if !slices.Equal(got, want) {
		t.Errorf("parsed %v, want %v", got, want)
	}
}

func TestDeactivatedTagRoundTrip(t *testing.T) {
	keys := map[string]Inactive{
		"AKIAB0000000000000002": {Since: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), ByRotator: true},
		"AKIAA0000000000000001": {Since: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		"AKIAC0000000000000003": {Since: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), ByRotator: true, Unsure: true},
	}
	tag := FormatDeactivated(keys)
	if want := "AKIAA0000000000000001:2026-11-20 AKIAB0000000000000002:2026-11-25:R AKIAC0000000000000003:2026-11-26:U"; tag != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	if got := ParseDeactivated(tag); !maps.Equal(got, keys) {
		t.Errorf("parsed %v, want %v", got, keys)
	}
	if got := ParseDeactivated("AKIA1:yesterday AKIA2 AKIA3:2026-11-20:X AKIA4:2026-11-20"); len(got) != 1 || got["AKIA4"].Since.IsZero() {
		t.Errorf("parsed %v, want only AKIA4", got)
	}
}

func TestApply(t *testing.T) {
	u := policy.User{UserName: "alice",
		Tags: map[string]string{NoticesTag: "K1:DS:20261124 K1:KD:20261125", DeactivatedTag: "K2:2026-11-20:R"},
		Keys: []policy.Key{{AccessKeyID: "K1", Status: policy.Inactive}, {AccessKeyID: "K2", Status: policy.Inactive}}}
	newly := Apply(&u, today, "")
	if !slices.Equal(newly, []string{"K1"}) {
		t.Errorf("newly inactive %v, want [K1]", newly)
	}
	if k := u.Keys[0]; k.DeactivatedDate == nil || !SameDay(*k.DeactivatedDate, today) || k.DeactivatedByRotator {
		t.Errorf("K1 %+v: want inactive since today, not by the rotator", k)
	}
	if k := u.Keys[1]; k.DeactivatedDate == nil || k.DeactivatedDate.Day() != 20 || !k.DeactivatedByRotator {
		t.Errorf("K2 %+v: want deactivated by the rotator on the 20th", k)
	}
	if len(u.NoticesSent) != 2 || !slices.Equal(u.NoticesSentToday, []policy.NoticeRef{{Kind: policy.KeyDeactivated, AccessKeyID: "K1"}}) {
		t.Errorf("sent %v, today %v", u.NoticesSent, u.NoticesSentToday)
	}
}

// TestNoticesCountForTheAddressTheyReached: after the owner's address changed, a notice that
// went to the old address does not count (it is sent again to the new one), and recording
// it for the new address replaces the old entry.
func TestNoticesCountForTheAddressTheyReached(t *testing.T) {
	old := "AKIAOLD0000000000001"
	tag := FormatNotices([]Sent{{policy.NoticeRef{Kind: policy.DeactivationScheduled, AccessKeyID: old}, today.AddDate(0, 0, -3), AddressDigest("Alice@Example.com"), false}})
	u := policy.User{UserName: "alice", Tags: map[string]string{NoticesTag: tag}}
	Apply(&u, today, "alice@example.com")
	if len(u.NoticesSent) != 1 {
		t.Errorf("the same address in another case: sent %v, want the warning", u.NoticesSent)
	}
	Apply(&u, today, "alice.new@example.com")
	if len(u.NoticesSent) != 0 {
		t.Errorf("after the address changed: sent %v, want none", u.NoticesSent)
	}
	if AddressDigest("a@example.com") == AddressDigest("b@example.com") || len(AddressDigest("a@example.com")) != 4 {
		t.Errorf("digests %q and %q", AddressDigest("a@example.com"), AddressDigest("b@example.com"))
	}
}

// The rotator's own tags count in any case, as IAM compares user tag keys: a record written
// as key-rotator:notices and read back as KEY-ROTATOR:NOTICES is the same record.
func TestHistoryTagsAreReadInAnyCase(t *testing.T) {
	old, inactive := "AKIAOLD0000000000001", "AKIAINACTIVE00000002"
	u := policy.User{UserName: "alice", Tags: map[string]string{
		"KEY-ROTATOR:NOTICES":     old + ":DS:20261120",
		"Key-Rotator:Deactivated": inactive + ":2026-11-01:R",
	}, Keys: []policy.Key{{AccessKeyID: old, Status: policy.Active}, {AccessKeyID: inactive, Status: policy.Inactive}}}
	newly := Apply(&u, today, "alice@example.com")
	if want := []policy.NoticeRef{{Kind: policy.DeactivationScheduled, AccessKeyID: old}}; !slices.Equal(u.NoticesSent, want) {
		t.Errorf("notices sent %v, want %v", u.NoticesSent, want)
	}
	if d := u.Keys[1].DeactivatedDate; len(newly) != 0 || d == nil || !d.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !u.Keys[1].DeactivatedByRotator {
		t.Errorf("newly inactive %v, deactivated %v by rotator %v: want the recorded 2026-11-01", newly, d, u.Keys[1].DeactivatedByRotator)
	}
}

// A DeliveryFailed notice is superseded by the key's NewKeyIssued notice delivered on a later
// day, from the day after that notice on: a same-day re-run changes no record.
func TestDeliveryFailedIsSupersededFromTheDayAfterTheNewKeyNotice(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	df := Sent{NoticeRef: policy.NoticeRef{Kind: policy.DeliveryFailed, AccessKeyID: "K1"}, On: day(1)}
	nk := Sent{NoticeRef: policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: "K1"}, On: day(7)}
	other := Sent{NoticeRef: policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: "K2"}, On: day(7)}
	for _, tc := range []struct {
		name  string
		sent  []Sent
		today time.Time
		want  bool
	}{
		{"no new-key notice", []Sent{df}, day(8), false},
		{"another key's new-key notice", []Sent{df, other}, day(8), false},
		{"the new-key notice, today", []Sent{df, nk}, day(7), false},
		{"the new-key notice, on an earlier day", []Sent{df, nk}, day(8), true},
		{"the new-key notice before the failure", []Sent{{NoticeRef: df.NoticeRef, On: day(9)}, nk}, day(10), false},
	} {
		if got := Superseded(tc.sent, tc.sent[0], tc.today); got != tc.want {
			t.Errorf("%s: Superseded = %v, want %v", tc.name, got, tc.want)
		}
	}
}
