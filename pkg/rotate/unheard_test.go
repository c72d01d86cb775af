package rotate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestKeyKeptPastItsDayForABouncedAddressIsReportedWithTheDayItGoes: a warning sent while the
// runs could not see bounces reached its owner (campaign seeds 35 and 133); its resend, once
// they can, bounced, and SES suppresses the address since. On the day told the rotator counts
// neither (it cannot tell a warning that arrived from one that bounced, invariant 4 before
// invariant 8), so the key waits for the bounded wait, and no email can tell the owner the
// new day. The report then says so, with the day the key goes (deactivateOn: the end of the
// bounded wait, never a day already past), and the key goes on that day.
func TestKeyKeptPastItsDayForABouncedAddressIsReportedWithTheDayItGoes(t *testing.T) {
	h := scenario.New(t)
	addr := "lena@" + scenario.Domain
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	ids := h.User("lena", nil, 85, 5) // an old key and a replacement lena made: the old key's date is day 5
	h.Day()                           // day 0: the warning, sent unconfirmed, reaches lena
	if len(h.W.Delivered(addr)) != 1 {
		t.Fatalf("lena's warning of day 0: %d delivered, want 1", len(h.W.Delivered(addr)))
	}
	h.W.SetBounce(addr, true) // the mailbox goes away
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint)
	h.Day() // day 1: the warning sent again, by a run that sees bounces, bounces
	if len(h.W.Bounced(addr)) == 0 {
		t.Fatalf("the warning sent again on day 1 did not bounce")
	}
	h.W.SetBounce(addr, false) // the mailbox is back; SES still suppresses it
	day := func(n int) string { return h.DayStart.AddDate(0, 0, n-h.Runs).Format(time.DateOnly) }
	goesOn := day(15) // its date (day 5) and the notice period
	for h.Runs < 15 {
		today := h.DayStart.Format(time.DateOnly)
		sends := len(h.W.Messages())
		res := h.DayWith()
		if h.Keys("lena")[ids[0]] != types.StatusTypeActive {
			t.Fatalf("%s: lena's old key was deactivated before the bounded wait's end %s, on the strength of warnings that may not have arrived", today, goesOn)
		}
		if more := len(h.W.Messages()) - sends; more != 0 {
			t.Errorf("%s: %d emails sent again to the suppressed address", today, more)
		}
		if today < day(5) {
			continue
		}
		u := userResult(res, "lena")
		if on := deactivateOn(u, ids[0]); on != goesOn {
			t.Errorf("%s: the report gives lena's old key %s the deactivation day %q, want %s (the bounded wait's end)", today, ids[0], on, goesOn)
		}
		if !strings.Contains(u.Reason, ids[0]) || !strings.Contains(u.Reason, goesOn) || !strings.Contains(u.Reason, "suppression list") {
			t.Errorf("%s: the report does not say why lena's old key stays active past its day, and until when: %q", today, u.Reason)
		}
	}
	h.Day() // day 15
	if h.Keys("lena")[ids[0]] != types.StatusTypeInactive {
		t.Errorf("lena's old key is not deactivated on %s, the day the report gave (keys %v)", goesOn, h.Keys("lena"))
	}
}

// userResult is user's row in an account's result.
func userResult(res workflow.AccountResult, user string) workflow.UserResult {
	for _, u := range res.Users {
		if u.UserName == user {
			return u
		}
	}
	return workflow.UserResult{}
}

// deactivateOn is the day a user's row gives key id.
func deactivateOn(u workflow.UserResult, id string) string {
	for _, k := range u.Keys {
		if k.AccessKeyID == id {
			return k.DeactivateOn
		}
	}
	return ""
}
