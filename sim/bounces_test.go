package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// Issue 19, item 7: the rotator learns of a bounce only from SES's account-level suppression
// list, and SES puts an address there only for the reasons that govern the mail (the
// configuration set's suppression options, else the account's). With BOUNCE not among them a
// bounce leaves no trace, so silence is no delivery.

// TestBounceNotSuppressedKeyEmailIsNeverConfirmed: with an SES account whose suppression
// settings leave BOUNCE out, a new key's email that bounced is never confirmed as delivered:
// its secret stays, and the old key is not deactivated on the strength of it.
func TestBounceNotSuppressedKeyEmailIsNeverConfirmed(t *testing.T) {
	h := newHarness(t)
	h.w.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	old := h.user("frank", nil, 85)[0]
	h.w.SetBounce("frank@"+domain, true)
	// The new key is made on day 0; the old key's date is day 10; the bounded wait ends on
	// day 20.
	for range 12 {
		h.day()
	}
	if h.keys("frank")[old] != types.StatusTypeActive {
		t.Errorf("the old key %s was deactivated although the new key's email bounced (keys %v)", old, h.keys("frank"))
	}
	if secrets := h.handoffSecrets("frank"); len(secrets) != 1 {
		t.Errorf("frank's hand-off secrets: %v; want the bounced key's, unconfirmed", secrets)
	}
}

// TestKeySentWhileBouncesAreNotSuppressedIsSentAgainOnceTheyAre: a key email that arrived is
// not confirmed either while BOUNCE is not suppressed (nothing could have shown its bounce),
// nor sent again each day; the report says why. Once the setting suppresses BOUNCE, the key
// is sent again, and that send is the one confirmed on the next day.
func TestKeySentWhileBouncesAreNotSuppressedIsSentAgainOnceTheyAre(t *testing.T) {
	h := newHarness(t)
	h.w.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	h.user("gail", nil, 85)
	h.day()
	sends := len(h.w.Messages())
	for range 3 {
		res, notes := h.scanWith(context.Background())
		h.notify(notes)
		why := ""
		for _, u := range res.Users {
			if u.UserName == "gail" {
				why = u.Reason + " " + u.EmailProblem
			}
		}
		if !strings.Contains(why, "BOUNCE") {
			t.Errorf("day %d: gail's row does not say that BOUNCE is not suppressed: %q", h.runs, why)
		}
		h.dayStart = h.dayStart.AddDate(0, 0, 1)
		h.now = h.dayStart
	}
	if secrets := h.handoffSecrets("gail"); len(secrets) != 1 {
		t.Fatalf("gail's hand-off secrets while BOUNCE is not suppressed: %v; want the unconfirmed one", secrets)
	}
	if more := len(h.w.Messages()) - sends; more != 0 {
		t.Errorf("%d messages sent again while BOUNCE is not suppressed; want none", more)
	}
	h.w.SetSuppressionReasons(sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint)
	h.day()
	if len(h.w.Messages()) == sends {
		t.Fatalf("once BOUNCE is suppressed the key was not sent again")
	}
	if secrets := h.handoffSecrets("gail"); len(secrets) != 1 {
		t.Fatalf("the send of the day BOUNCE is suppressed again was confirmed the same day: %v", secrets)
	}
	h.day()
	if secrets := h.handoffSecrets("gail"); len(secrets) != 0 {
		t.Errorf("the send made while BOUNCE is suppressed is not confirmed on the next day: %v", secrets)
	}
}
