package sim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Issue 19, item 9: anyone allowed iam:TagUser can write the rotator's tags. Each forged
// value below, in the rotator's own format, would hasten an action if the rotator believed
// it (invariant 11: a forged rotator tag can postpone an action, never hasten one).
func TestForgedRotatorTagNeverHastensAnAction(t *testing.T) {
	day := func(t time.Time, d int) time.Time { return t.AddDate(0, 0, d) }
	tests := []struct {
		name string
		// setup makes the user and forges its tag; it returns the key that must stay as it
		// is (and whether it must stay Active) after the day's run.
		setup  func(h *scenario.Harness) (key string, active bool)
		reason string
	}{
		{"notices claimed delivered", func(h *scenario.Harness) (string, bool) {
			ids := h.User("ann", nil, 95, 15) // the 15-day-old key replaces the 95-day-old one
			sent := []history.Sent{
				{NoticeRef: policy.NoticeRef{Kind: policy.DeactivationScheduled, AccessKeyID: ids[0]}, On: day(h.Now, -5), To: history.AddressDigest("ann@" + domain)},
				{NoticeRef: policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: ids[0]}, On: day(h.Now, -15), To: history.AddressDigest("ann@" + domain)},
			}
			must(h.W.SetTag(scenario.Account, "ann", history.NoticesTag, history.FormatNotices(sent)))
			return ids[0], true
		}, "deactivated on the strength of warnings nobody sent"},
		{"a deactivation day long past", func(h *scenario.Harness) (string, bool) {
			h.User("ben", nil, 85)
			id, _, err := h.W.AddKey(scenario.Account, "ben", day(h.Now, -120), types.StatusTypeInactive) // deactivated today by its owner
			must(err)
			must(h.W.SetTag(scenario.Account, "ben", history.DeactivatedTag, history.FormatDeactivated(map[string]history.Inactive{id: {Since: day(h.Now, -30)}})))
			h.Now = h.Now.Add(time.Minute)
			return id, false
		}, "deleted on the day it was deactivated"},
		{"a pending mark over the owner's own key", func(h *scenario.Harness) (string, bool) {
			must(h.W.CreateUser(scenario.Account, "cyd", map[string]string{"EmailID": "cyd@" + domain}))
			old, _, err := h.W.AddKey(scenario.Account, "cyd", day(h.Now, -85), types.StatusTypeActive)
			must(err)
			must(h.W.UseKey(scenario.Account, old, h.Now.Add(-time.Hour), "s3", "us-east-1"))
			own, _, err := h.W.AddKey(scenario.Account, "cyd", h.Now.Add(-12*time.Hour), types.StatusTypeActive) // made by the owner last night
			must(err)
			must(h.W.SetTag(scenario.Account, "cyd", history.PendingTag, h.Now.Add(-12*time.Hour-30*time.Second).UTC().Format(time.RFC3339)+" forged"))
			h.Now = h.Now.Add(time.Minute)
			return own, true
		}, "deleted as an orphan"},
		{"the owner's address given up", func(h *scenario.Harness) (string, bool) {
			ids := h.User("dot", nil, 95) // due: a replacement first, the deactivation N days later
			must(h.W.SetTag(scenario.Account, "dot", history.UndeliverableTag, "dot@"+domain))
			return ids[0], true
		}, "deactivated at once, as if the owner had no usable email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := scenario.New(t)
			key, active := tt.setup(h)
			h.Day()
			status, ok := h.Keys(userOf(h, key))[key]
			if !ok || active && status != types.StatusTypeActive {
				t.Errorf("key %s was %s: keys now %v", key, tt.reason, h.Keys(userOf(h, key)))
			}
		})
	}
}

// userOf is the user of the key id in the harness's account.
func userOf(h *scenario.Harness, id string) string {
	for _, name := range []string{"ann", "ben", "cyd", "dot"} {
		for _, k := range h.W.Keys(scenario.Account, name) {
			if k.AccessKeyID == id {
				return name
			}
		}
	}
	return ""
}
