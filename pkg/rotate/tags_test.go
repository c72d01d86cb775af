package rotate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the rotator's tags on IAM users (tags.go, tagroom.go) and of tags read
// the way IAM compares them, run on the AWS model by sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 6: when recording the deactivation day fails, a re-run the same day does not delete
// the key deactivated that day.
func TestCase6NoSameDayDeleteAfterAFailedHistoryWrite(t *testing.T) {
	h := scenario.New(t)
	scenario.Must(h.W.CreateUser(scenario.Account, "frank", nil)) // no email: deactivated at 90
	id, _, err := h.W.AddKey(scenario.Account, "frank", h.Now.AddDate(0, 0, -105), types.StatusTypeActive)
	scenario.Must(err)
	scenario.Must(h.W.UseKey(scenario.Account, id, h.Now.Add(-time.Hour), "s3", "us-east-1"))
	h.Now = h.Now.Add(time.Minute)
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.TagUserInput); ok && len(in.Tags) > 0 && aws.ToString(in.Tags[0].Key) == "key-rotator:deactivated" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Notify(h.Scan())
	h.W.Inject = nil
	h.Now = h.Now.Add(30 * time.Minute)
	h.Notify(h.Scan()) // the same day
	if _, ok := h.Keys("frank")[id]; !ok {
		t.Errorf("frank's key %s was deleted on the day it was deactivated", id)
	}
}

// Forged rotator tags: anyone allowed iam:TagUser can write the rotator's tags. Each forged
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
				{NoticeRef: policy.NoticeRef{Kind: policy.DeactivationScheduled, AccessKeyID: ids[0]}, On: day(h.Now, -5), To: history.AddressDigest("ann@" + scenario.Domain)},
				{NoticeRef: policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: ids[0]}, On: day(h.Now, -15), To: history.AddressDigest("ann@" + scenario.Domain)},
			}
			scenario.Must(h.W.SetTag(scenario.Account, "ann", history.NoticesTag, history.FormatNotices(sent)))
			return ids[0], true
		}, "deactivated on the strength of warnings nobody sent"},
		{"a deactivation day long past", func(h *scenario.Harness) (string, bool) {
			h.User("ben", nil, 85)
			id, _, err := h.W.AddKey(scenario.Account, "ben", day(h.Now, -120), types.StatusTypeInactive) // deactivated today by its owner
			scenario.Must(err)
			scenario.Must(h.W.SetTag(scenario.Account, "ben", history.DeactivatedTag, history.FormatDeactivated(map[string]history.Inactive{id: {Since: day(h.Now, -30)}})))
			h.Now = h.Now.Add(time.Minute)
			return id, false
		}, "deleted on the day it was deactivated"},
		{"a pending mark over the owner's own key", func(h *scenario.Harness) (string, bool) {
			scenario.Must(h.W.CreateUser(scenario.Account, "cyd", map[string]string{"EmailID": "cyd@" + scenario.Domain}))
			old, _, err := h.W.AddKey(scenario.Account, "cyd", day(h.Now, -85), types.StatusTypeActive)
			scenario.Must(err)
			scenario.Must(h.W.UseKey(scenario.Account, old, h.Now.Add(-time.Hour), "s3", "us-east-1"))
			own, _, err := h.W.AddKey(scenario.Account, "cyd", h.Now.Add(-12*time.Hour), types.StatusTypeActive) // made by the owner last night
			scenario.Must(err)
			scenario.Must(h.W.SetTag(scenario.Account, "cyd", history.PendingTag, h.Now.Add(-12*time.Hour-30*time.Second).UTC().Format(time.RFC3339)+" forged"))
			h.Now = h.Now.Add(time.Minute)
			return own, true
		}, "deleted as an orphan"},
		{"the owner's address given up", func(h *scenario.Harness) (string, bool) {
			ids := h.User("dot", nil, 95) // due: a replacement first, the deactivation N days later
			scenario.Must(h.W.SetTag(scenario.Account, "dot", history.UndeliverableTag, "dot@"+scenario.Domain))
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

// Tag keys in any case: IAM compares the tag keys of users
// case-insensitively ("not case sensitive, but case is preserved"), and so must the rotator.

func TestExemptTagInAnyCaseGetsZeroWrites(t *testing.T) {
	for _, tag := range []map[string]string{{"exempt": "TRUE"}, {"EXEMPT": "true"}} {
		h := scenario.New(t)
		ids := h.User("dave", tag, 200, 85)
		writes := 0
		h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
			if c.Service == "IAM" && c.Writes() && strings.HasPrefix(c.Subject(), "dave") {
				writes++
			}
		}
		h.Day()
		if writes != 0 || len(h.Keys("dave")) != len(ids) || len(h.W.Delivered("dave@"+scenario.Domain)) != 0 {
			t.Errorf("dave tagged %v: %d writes, keys %v (had %v), %d emails", tag, writes, h.Keys("dave"), ids, len(h.W.Delivered("dave@"+scenario.Domain)))
		}
	}
}

func TestOwnerTaggedLowercaseEmailIDGetsTheirNewKey(t *testing.T) {
	h := scenario.New(t)
	old := h.TaggedUser("erin", map[string]string{"emailid": "erin@" + scenario.Domain}, 85)[0]
	h.Day()
	got := h.Received("erin")
	if len(got) != 1 || got[0] == old || h.Keys("erin")[got[0]] != types.StatusTypeActive {
		t.Errorf("erin tagged emailid= received %v, want her new key (keys %v)", got, h.Keys("erin"))
	}
}

func TestKeyDeliveryTagInAnyCaseWritesTheApplicationsSecret(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci", map[string]string{"keydelivery": appsecret.Scheme + "app/ci"}, 85)[0]
	scenario.Must(h.W.CreateAppSecret(scenario.Account, "app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`, map[string]string{appsecret.OptInTag: "ci"}))
	h.Day()
	if got := h.AppReads("ci"); got == old || h.Keys("ci")[got] != types.StatusTypeActive || len(h.Received("ci")) != 0 {
		t.Errorf("ci tagged keydelivery=: the application reads %s (old %s), keys %v, zips %v: want the new key in its secret and no zip",
			got, old, h.Keys("ci"), h.Received("ci"))
	}
}

// A record of the rotator's tags that someone re-spelled (a copy through another tool) is
// still its record: the warning it remembers counts, and the record is not written twice.
func TestRotatorTagInAnotherCaseIsItsRecord(t *testing.T) {
	h := scenario.New(t)
	ids := h.User("fay", nil, 91, 11) // the replacement is 10 days old tomorrow
	h.SignedTag("fay", "Key-Rotator:Notices", ids[0]+":DS:"+h.Now.AddDate(0, 0, -1).Format("20060102")+":"+history.AddressDigest("fay@"+scenario.Domain))
	h.Day()
	if h.Keys("fay")[ids[0]] != types.StatusTypeInactive {
		t.Errorf("the key warned of yesterday (recorded under Key-Rotator:Notices) was not deactivated: keys %v, tags %v", h.Keys("fay"), h.W.Tags(scenario.Account, "fay"))
	}
	for _, name := range []string{history.NoticesTag, history.DeactivatedTag} {
		n := 0
		for k := range h.W.Tags(scenario.Account, "fay") {
			if strings.EqualFold(k, name) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("fay carries %d tags %s in any case, want 1: %v", n, name, h.W.Tags(scenario.Account, "fay"))
		}
	}
}

// A user at IAM's 50-tag quota: the rotator cannot write the tags its
// bookkeeping needs, so it writes nothing, says in the user's result what a person must do,
// and tells the owner, once a day; once a tag is removed, the next run rotates.

// ownTags are n tags of the user's own, besides the email tag.
func ownTags(n int) map[string]string {
	tags := map[string]string{}
	for i := range n {
		tags[fmt.Sprintf("CostCenter%02d", i)] = "4711"
	}
	return tags
}

func TestUserAtTheTagLimitIsToldAndNothingIsWritten(t *testing.T) {
	h := scenario.New(t)
	old := h.User("gus", ownTags(49), 85)[0] // 50 tags with EmailID
	var writes []string
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && strings.HasPrefix(c.Subject(), "gus") {
			writes = append(writes, c.Operation)
		}
	}
	res, notes := h.ScanWith(t.Context())
	h.Notify(notes)
	var result string
	for _, u := range res.Users {
		if u.UserName == "gus" {
			result = u.Error + u.Reason
		}
	}
	if len(writes) != 0 || !strings.Contains(result, "remove") || !strings.Contains(result, "50 tags") {
		t.Errorf("gus at 50 tags: writes %v, result %q; want no write and a result that says to remove a tag", writes, result)
	}
	told := h.Subjects("gus")
	if len(told) != 1 || !strings.Contains(told[0], "too many tags") || !strings.Contains(told[0], old) {
		t.Fatalf("the owner was told %q, want one email about the tags", told)
	}
	h.Notify(h.Scan()) // the same day's re-run
	if len(h.Subjects("gus")) != 1 || len(writes) != 0 {
		t.Errorf("a same-day re-run sent %q and wrote %v", h.Subjects("gus")[1:], writes)
	}
	h.DayStart, h.Now = h.DayStart.AddDate(0, 0, 1), h.DayStart.AddDate(0, 0, 1)
	scenario.Must(h.W.RemoveTag(scenario.Account, "gus", "CostCenter00"))
	scenario.Must(h.W.RemoveTag(scenario.Account, "gus", "CostCenter01"))
	h.Day()
	if got := h.Received("gus"); len(got) != 1 || h.Keys("gus")[old] != types.StatusTypeActive {
		t.Errorf("after two tags were removed gus received %v, keys %v: want the new key", got, h.Keys("gus"))
	}
}
