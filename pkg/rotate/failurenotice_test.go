package rotate

import (
	"strings"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TestFailureNoticeOfALateRedeliveryNamesNoPastDay: a key whose delivery to its application's
// secret still waits long after the end of the bounded wait counted from its first date (its
// old key kept past it: warnings that could not be seen not to bounce count for nothing) is
// redelivered with a DeliveryFailed notice; the day it names is the end of that wait, and not
// before tomorrow (invariant 8). Campaign seed 12 day 40 after merging main into bounces2:
// "told on 2026-02-10 that it will be deactivated on 2026-01-22".
func TestFailureNoticeOfALateRedeliveryNamesNoPastDay(t *testing.T) {
	now := time.Date(2026, 2, 10, 13, 30, 0, 0, time.UTC)
	ur := &userRun{execution: &execution{run: workflow.Run{Now: now}, cfg: policy.Config{NoticePeriod: 10}},
		u: policy.User{UserName: "user041", Keys: []policy.Key{{AccessKeyID: "AKIAOLD", Status: policy.Active}}}}
	for _, tc := range []struct{ deactivateOn, want string }{
		{"2026-02-05", "2026-02-15"}, // the end of the bounded wait, still to come
		{"2026-01-12", "2026-02-11"}, // long past: tomorrow
	} {
		n := ur.failureNotice("AKIANEW", "AKIAOLD", tc.deactivateOn, "app/user041", "")
		if n == nil || n.ActBy != tc.want || !strings.Contains(n.Message, tc.want) {
			t.Errorf("first date %s: notice %+v, want it to name %s", tc.deactivateOn, n, tc.want)
		}
	}
}
