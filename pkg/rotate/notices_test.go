package rotate_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the notices and the days they name (notices.go), run on the AWS model by
// sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 5: a DeactivationScheduled notice that SES failed to send is not counted as sent: the
// key is deactivated only after the warning reached its owner, on an earlier day.
func TestCase5WarningIsDeliveredBeforeTheDeactivation(t *testing.T) {
	h := scenario.New(t)
	ids := h.User("erin", nil, 89, 5) // an old key, and a replacement erin made herself
	warned := time.Time{}
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" && h.Runs <= 2 {
			return awsmodel.ServerError // SES is down for the first two days
		}
		return awsmodel.None
	}
	for range 20 {
		h.Day()
		if warned.IsZero() && len(h.W.Delivered("erin@"+scenario.Domain)) > 0 {
			warned = h.Now
		}
		if h.Keys("erin")[ids[0]] == types.StatusTypeInactive {
			break
		}
	}
	if warned.IsZero() {
		t.Fatal("erin was never warned")
	}
	if h.Keys("erin")[ids[0]] == types.StatusTypeInactive && !warned.Before(h.Now) {
		t.Errorf("erin's key was deactivated the day the warning reached her")
	}
}
