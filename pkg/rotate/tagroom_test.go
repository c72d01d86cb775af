package rotate

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
)

// TestRoomForTheRotatorsTags: a plan goes ahead only when the user's tags leave room for
// every tag of the rotator it needs at once, counting those the user carries (in any case).
func TestRoomForTheRotatorsTags(t *testing.T) {
	own := func(n int, extra map[string]string) policy.Tags {
		tags := policy.Tags{}
		for i := range n {
			tags[fmt.Sprintf("Own%02d", i)] = "x"
		}
		for k, v := range extra {
			tags[k] = v
		}
		return tags
	}
	create := policy.UserPlan{Actions: []policy.Action{{Action: policy.CreateKey, Replaces: "AKIA1"}},
		Notices: []policy.Notice{{Kind: policy.NewKeyIssued, AccessKeyID: "AKIA1"}}}
	deactivate := policy.UserPlan{Actions: []policy.Action{{Action: policy.DeactivateKey, AccessKeyID: "AKIA1"}},
		Notices: []policy.Notice{{Kind: policy.KeyDeactivated, AccessKeyID: "AKIA1"}}}
	warn := policy.UserPlan{Notices: []policy.Notice{{Kind: policy.DeactivationScheduled, AccessKeyID: "AKIA1"}}}
	deleted := policy.UserPlan{Actions: []policy.Action{{Action: policy.DeleteKey, AccessKeyID: "AKIA1"}},
		Notices: []policy.Notice{{Kind: policy.UnusedKeyDeleted, AccessKeyID: "AKIA1"}}}
	for _, tc := range []struct {
		name  string
		tags  policy.Tags
		plan  policy.UserPlan
		short int
		adds  []string
	}{
		{"a new key at 48 own tags: notices and deactivated fit, the mark before them", own(48, nil), create, 0, nil},
		{"a new key at 49 own tags", own(49, nil), create, 1, []string{history.DeactivatedTag, history.NoticesTag, history.PendingTag}},
		{"a new key at 50 own tags", own(50, nil), create, 2, []string{history.DeactivatedTag, history.NoticesTag, history.PendingTag}},
		{"a new key at 48 own and the notices tag in another case", own(48, map[string]string{"KEY-ROTATOR:NOTICES": ""}), create, 0, nil},
		{"a deactivation at 49 own and the notices tag", own(49, map[string]string{history.NoticesTag: ""}), deactivate, 1, []string{history.DeactivatedTag}},
		{"a deactivation at 48 own and the notices tag", own(48, map[string]string{history.NoticesTag: ""}), deactivate, 0, nil},
		{"a warning at 50 own tags", own(50, nil), warn, 1, []string{history.NoticesTag}},
		{"a deletion needs no tag", own(50, nil), deleted, 0, nil},
		{"nothing to do", own(60, nil), policy.UserPlan{}, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ur := &userRun{u: policy.User{UserName: "alice", Tags: tc.tags}}
			short, adds := ur.tagsShort(tc.plan)
			if short != tc.short || !slices.Equal(adds, tc.adds) {
				t.Errorf("short %d of %v, want %d of %v", short, adds, tc.short, tc.adds)
			}
		})
	}
}

// TestUnverifiedRotatorTagsTakeRoomToo: a rotator tag whose MAC did not verify is out of the
// user's tags as the rotator reads them, but IAM still counts it (the campaign found a TagUser
// refused at the limit): it takes a slot, and writing it replaces it.
func TestUnverifiedRotatorTagsTakeRoomToo(t *testing.T) {
	deactivate := policy.UserPlan{Actions: []policy.Action{{Action: policy.DeactivateKey, AccessKeyID: "AKIA1"}}}
	for _, tc := range []struct {
		name      string
		untrusted map[string]string
		short     int
	}{
		{"a forged mark takes the last slot", map[string]string{history.PendingTag: "forged"}, 1},
		{"a forged deactivated tag is replaced", map[string]string{history.DeactivatedTag: "forged"}, 0},
	} {
		tags := policy.Tags{}
		for i := range 49 {
			tags[fmt.Sprintf("Own%02d", i)] = "x"
		}
		ur := &userRun{u: policy.User{UserName: "alice", Tags: tags}, untrusted: tc.untrusted}
		if short, _ := ur.tagsShort(deactivate); short != tc.short {
			t.Errorf("%s: short %d, want %d", tc.name, short, tc.short)
		}
	}
}
