package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Tag keys in any case (issue 19, item 2): IAM compares the tag keys of users
// case-insensitively ("not case sensitive, but case is preserved"), and so must the rotator.

func TestExemptTagInAnyCaseGetsZeroWrites(t *testing.T) {
	for _, tag := range []map[string]string{{"exempt": "TRUE"}, {"EXEMPT": "true"}} {
		h := scenario.New(t)
		ids := h.User("dave", tag, 200, 85)
		writes := 0
		h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
			if c.Service == "IAM" && c.Writes() && strings.HasPrefix(callSubject(c.Input), "dave") {
				writes++
			}
		}
		h.Day()
		if writes != 0 || len(h.Keys("dave")) != len(ids) || len(h.W.Delivered("dave@"+domain)) != 0 {
			t.Errorf("dave tagged %v: %d writes, keys %v (had %v), %d emails", tag, writes, h.Keys("dave"), ids, len(h.W.Delivered("dave@"+domain)))
		}
	}
}

func TestOwnerTaggedLowercaseEmailIDGetsTheirNewKey(t *testing.T) {
	h := scenario.New(t)
	old := h.TaggedUser("erin", map[string]string{"emailid": "erin@" + domain}, 85)[0]
	h.Day()
	got := h.Received("erin")
	if len(got) != 1 || got[0] == old || h.Keys("erin")[got[0]] != types.StatusTypeActive {
		t.Errorf("erin tagged emailid= received %v, want her new key (keys %v)", got, h.Keys("erin"))
	}
}

func TestKeyDeliveryTagInAnyCaseWritesTheApplicationsSecret(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci", map[string]string{"keydelivery": appsecret.Scheme + "app/ci"}, 85)[0]
	must(h.W.CreateAppSecret(scenario.Account, "app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`, map[string]string{appsecret.OptInTag: "ci"}))
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
	h.SignedTag("fay", "Key-Rotator:Notices", ids[0]+":DS:"+h.Now.AddDate(0, 0, -1).Format("20060102")+":"+history.AddressDigest("fay@"+domain))
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
