package rotate_test

import (
	"time"

	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// TestWarningSentWhileBouncesAreNotSuppressedIsNotCountedLater: a DeactivationScheduled notice
// sent while SES did not suppress bounces may have bounced without a trace (SES lists an
// address only for bounces of mail sent while BOUNCE is suppressed). A later run that sees
// bounces must not count it as a delivered warning: it warns the owner again, and the key
// waits for that warning (here it bounces too: the address is then suppressed, and the key
// waits for the bounded wait). Campaign seed 4 day 58 on integrate 3c16d8c (user018).
func TestWarningSentWhileBouncesAreNotSuppressedIsNotCountedLater(t *testing.T) {
	h := scenario.New(t)
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	ids := h.User("ivan", nil, 88, 3)
	h.W.SetBounce("ivan@"+scenario.Domain, true)
	old := ids[0]
	if h.W.Keys(scenario.Account, "ivan")[0].AccessKeyID != old {
		old = ids[1]
	}
	h.Day() // the DeactivationScheduled notice is sent, and bounces unseen
	bounced := len(h.W.Bounced("ivan@" + scenario.Domain))
	if bounced == 0 {
		t.Fatalf("no notice was sent to ivan on the first day")
	}
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint)
	// The key's date is day 7 (its replacement's age plus the notice period); the bounded
	// wait ends on day 17.
	for day := 1; day <= 12; day++ {
		h.Day()
		if h.Keys("ivan")[old] != types.StatusTypeActive {
			t.Fatalf("day %d: key %s deactivated on the strength of a warning sent while bounces were not suppressed (it bounced; %d messages bounced since)",
				day, old, len(h.W.Bounced("ivan@"+scenario.Domain))-bounced)
		}
	}
	if again := len(h.W.Bounced("ivan@"+scenario.Domain)) - bounced; again == 0 {
		t.Errorf("ivan was not warned again once bounces were suppressed")
	}
}

// TestNewKeyEmailSentWhileBouncesAreNotSuppressedCountsOnceTheKeyIsUsed: the new-key email is
// the old key's NewKeyIssued notice, and the only mail that carried the new key: once that key
// is used, the email reached its owner, although it was sent while bounces were not
// suppressed. The old key goes on the day it told, with no second warning (which, should the
// mailbox be gone meanwhile, would bounce and hold the key past that day). Campaign seed 13
// day 43 (user057), with the first fix of this branch.
func TestNewKeyEmailSentWhileBouncesAreNotSuppressedCountsOnceTheKeyIsUsed(t *testing.T) {
	h, old, got := newKeyEmailedUnwatched(t, "jane")
	scenario.Must(h.W.UseKey(scenario.Account, got, h.Now.Add(-time.Hour), "s3", "us-east-1"))
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint)
	h.W.SetBounce("jane@"+scenario.Domain, true) // the mailbox is gone from here on
	for day := 1; day <= 10; day++ {
		h.Day()
	}
	if h.Keys("jane")[old] == types.StatusTypeActive {
		t.Errorf("day 10: the old key %s is still active, its day told in the new-key email that reached jane (the new key was used); %d messages bounced since",
			old, len(h.W.Bounced("jane@"+scenario.Domain)))
	}
}

// TestNewKeyEmailProvenByUseCountsInARunThatCannotSeeBounces: a run that cannot see bounces
// (SES does not suppress BOUNCE for the rotator's mail) counts no warning it cannot confirm,
// but the new-key email of a key used since reached its owner whatever SES shows or could
// show: the old key goes on the day that email told, also in such a run.
func TestNewKeyEmailProvenByUseCountsInARunThatCannotSeeBounces(t *testing.T) {
	h, old, got := newKeyEmailedUnwatched(t, "nina")
	for day := 1; day <= 10; day++ {
		scenario.Must(h.W.UseKey(scenario.Account, got, h.Now.Add(-time.Hour), "s3", "us-east-1"))
		h.Day()
	}
	if h.Keys("nina")[old] == types.StatusTypeActive {
		t.Errorf("day 10: the old key %s is still active, its day told in the new-key email that reached nina (the new key was used)", old)
	}
}

// newKeyEmailedUnwatched runs day 0 for a user with an 85-day-old key while SES does not
// suppress BOUNCE (COMPLAINT only): the new key is made and emailed, the old key's day is day
// 10. It returns the harness, the old key and the new key the owner received.
func newKeyEmailedUnwatched(t *testing.T, user string) (*scenario.Harness, string, string) {
	t.Helper()
	h := scenario.New(t)
	h.W.SetSuppressionReasons(sestypes.SuppressionListReasonComplaint)
	old := h.User(user, nil, 85)[0]
	h.Day()
	got := h.Received(user)
	if len(got) != 1 {
		t.Fatalf("%s received %v, want the new key", user, got)
	}
	return h, old, got[0]
}
