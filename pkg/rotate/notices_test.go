package rotate

import (
	"slices"
	"testing"

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
