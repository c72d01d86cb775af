package rotate

import (
	"slices"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

func TestNoticesTagRoundTrip(t *testing.T) {
	refs := []policy.NoticeRef{
		{Kind: policy.NewKeyIssued, AccessKeyID: "AKIAOLD0000000000001"},
		{Kind: policy.KeyDeactivated, AccessKeyID: "AKIAOLD0000000000001"},
		{Kind: policy.DeactivationScheduled, AccessKeyID: "AKIAOTHER00000000002"},
		{Kind: policy.NewKeyIssued, AccessKeyID: "AKIAOLD0000000000001"}, // a duplicate is written once
	}
	tag := formatNotices(refs)
	if want := "AKIAOLD0000000000001:NK AKIAOLD0000000000001:KD AKIAOTHER00000000002:DS"; tag != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	if got := parseNotices(tag); !slices.Equal(got, refs[:3]) {
		t.Errorf("parsed %v, want %v", got, refs[:3])
	}
	// Two keys with three notices each stay within IAM's 256-character tag values.
	var full []policy.NoticeRef
	for _, id := range []string{"AKIAAAAAAAAAAAAAAAAA", "AKIABBBBBBBBBBBBBBBB"} {
		for _, kind := range []policy.NoticeKind{policy.NewKeyIssued, policy.DeactivationScheduled, policy.KeyDeactivated} {
			full = append(full, policy.NoticeRef{Kind: kind, AccessKeyID: id})
		}
	}
	if n := len(formatNotices(full)); n > 256 {
		t.Errorf("a full notices tag is %d characters, over IAM's 256", n)
	}
}

func TestParseNoticesDropsWhatItDoesNotKnow(t *testing.T) {
	got := parseNotices("  AKIA1:NK junk AKIA2:ZZ :KD AKIA3:UX ")
	want := []policy.NoticeRef{{Kind: policy.NewKeyIssued, AccessKeyID: "AKIA1"}, {Kind: policy.UnusedKeyDeleted, AccessKeyID: "AKIA3"}}
	if !slices.Equal(got, want) {
		t.Errorf("parsed %v, want %v", got, want)
	}
}

func TestDeactivatedTagRoundTrip(t *testing.T) {
	days := map[string]time.Time{
		"AKIAB0000000000000002": time.Date(2026, 11, 25, 13, 0, 5, 0, time.UTC),
		"AKIAA0000000000000001": time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC),
	}
	tag := formatDeactivated(days)
	if want := "AKIAA0000000000000001:2026-11-20 AKIAB0000000000000002:2026-11-25"; tag != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	got := parseDeactivated(tag + " junk AKIAC:yesterday")
	if len(got) != 2 || got["AKIAB0000000000000002"].Format(time.DateOnly) != "2026-11-25" {
		t.Errorf("parsed %v", got)
	}
}
