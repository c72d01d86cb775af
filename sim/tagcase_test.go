package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// Tag keys in any case (issue 19, item 2): IAM compares the tag keys of users
// case-insensitively ("not case sensitive, but case is preserved"), and so must the rotator.

func TestExemptTagInAnyCaseGetsZeroWrites(t *testing.T) {
	for _, tag := range []map[string]string{{"exempt": "TRUE"}, {"EXEMPT": "true"}} {
		h := newHarness(t)
		ids := h.user("dave", tag, 200, 85)
		writes := 0
		h.w.Observe = func(c awsmodel.Call, _ any, _ error) {
			if c.Service == "IAM" && c.Writes() && strings.HasPrefix(callSubject(c.Input), "dave") {
				writes++
			}
		}
		h.day()
		if writes != 0 || len(h.keys("dave")) != len(ids) || len(h.w.Delivered("dave@"+domain)) != 0 {
			t.Errorf("dave tagged %v: %d writes, keys %v (had %v), %d emails", tag, writes, h.keys("dave"), ids, len(h.w.Delivered("dave@"+domain)))
		}
	}
}

func TestOwnerTaggedLowercaseEmailIDGetsTheirNewKey(t *testing.T) {
	h := newHarness(t)
	old := h.taggedUser("erin", map[string]string{"emailid": "erin@" + domain}, 85)[0]
	h.day()
	got := h.received("erin")
	if len(got) != 1 || got[0] == old || h.keys("erin")[got[0]] != types.StatusTypeActive {
		t.Errorf("erin tagged emailid= received %v, want her new key (keys %v)", got, h.keys("erin"))
	}
}

func TestKeyDeliveryTagInAnyCaseWritesTheApplicationsSecret(t *testing.T) {
	h := newHarness(t)
	old := h.user("ci", map[string]string{"keydelivery": appsecret.Scheme + "app/ci"}, 85)[0]
	must(h.w.CreateAppSecret(testAccount, "app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`, map[string]string{appsecret.OptInTag: "ci"}))
	h.day()
	if got := h.appReads("ci"); got == old || h.keys("ci")[got] != types.StatusTypeActive || len(h.received("ci")) != 0 {
		t.Errorf("ci tagged keydelivery=: the application reads %s (old %s), keys %v, zips %v: want the new key in its secret and no zip",
			got, old, h.keys("ci"), h.received("ci"))
	}
}

// A record of the rotator's tags that someone re-spelled (a copy through another tool) is
// still its record: the warning it remembers counts, and the record is not written twice.
func TestRotatorTagInAnotherCaseIsItsRecord(t *testing.T) {
	h := newHarness(t)
	ids := h.user("fay", nil, 91, 11) // the replacement is 10 days old tomorrow
	h.signedTag("fay", "Key-Rotator:Notices", ids[0]+":DS:"+h.now.AddDate(0, 0, -1).Format("20060102")+":"+history.AddressDigest("fay@"+domain))
	h.day()
	if h.keys("fay")[ids[0]] != types.StatusTypeInactive {
		t.Errorf("the key warned of yesterday (recorded under Key-Rotator:Notices) was not deactivated: keys %v, tags %v", h.keys("fay"), h.w.Tags(testAccount, "fay"))
	}
	for _, name := range []string{history.NoticesTag, history.DeactivatedTag} {
		n := 0
		for k := range h.w.Tags(testAccount, "fay") {
			if strings.EqualFold(k, name) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("fay carries %d tags %s in any case, want 1: %v", n, name, h.w.Tags(testAccount, "fay"))
		}
	}
}
