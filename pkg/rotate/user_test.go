package rotate_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of reading and planning one user (user.go), run on the AWS model by
// sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 7: a key the owner reactivates while the rotator reads other users is not deleted
// while active.
func TestCase7NoWriteOnStaleReads(t *testing.T) {
	h := scenario.New(t)
	scenario.Must(h.W.CreateUser(scenario.Account, "gina", map[string]string{"EmailID": "gina@" + scenario.Domain}))
	inactive, _, err := h.W.AddKey(scenario.Account, "gina", h.Now.AddDate(0, 0, -120), types.StatusTypeInactive)
	scenario.Must(err)
	h.SignedTag("gina", history.DeactivatedTag, inactive+":2026-01-01")
	h.User("hank", nil, 85)
	deletedActive := false
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.ListAccessKeysInput); ok && aws.ToString(in.UserName) == "hank" {
			_ = h.W.SetKeyStatus(scenario.Account, inactive, types.StatusTypeActive) // gina needs it again
		}
		if in, ok := c.Input.(*iam.DeleteAccessKeyInput); ok && aws.ToString(in.AccessKeyId) == inactive {
			deletedActive = h.Keys("gina")[inactive] == types.StatusTypeActive
		}
		return awsmodel.None
	}
	h.Day()
	if deletedActive {
		t.Errorf("gina's key %s was deleted while active", inactive)
	}
}
