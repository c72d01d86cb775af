package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// The hand-off secret's billed life (issue 11's cost): Secrets Manager charges nothing for a
// secret scheduled for deletion, so NotifyUser schedules it as soon as SES accepted the key's
// emails; the next day's run still confirms the delivery, or restores the secret to send the
// key again.

// TestHandoffSecretIsNotBilledAfterDelivery: once the new key's emails were accepted, its
// secret is scheduled for deletion (no longer billed) within the minutes of the run, and the
// next day's confirmation deletes it for good; the key then counts as delivered.
func TestHandoffSecretIsNotBilledAfterDelivery(t *testing.T) {
	h := scenario.New(t)
	h.User("erin", nil, 85)
	created := h.Now
	h.Notify(h.Scan())
	got := h.Received("erin")
	if len(got) != 1 {
		t.Fatalf("erin received %v, want the new key", got)
	}
	secrets := h.HandoffSecrets("erin")
	if len(secrets) != 1 {
		t.Fatalf("erin's hand-off secrets: %v, want one", secrets)
	}
	s := secrets[0]
	if s.DeletedDate == nil {
		t.Fatalf("the hand-off secret of %s is still billable after its delivery (not scheduled for deletion)", got[0])
	}
	if billed := s.DeletedDate.Sub(s.Created); billed > 10*time.Minute || s.Created.Before(created) {
		t.Errorf("the secret was billable for %s, want minutes", billed)
	}
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	h.Notify(h.Scan())
	if left := h.HandoffSecrets("erin"); len(left) != 0 {
		t.Errorf("after the next day's confirmation erin still has hand-off secrets %v", left)
	}
	if h.Keys("erin")[got[0]] != types.StatusTypeActive {
		t.Errorf("the delivered key %s is not active (keys %v)", got[0], h.Keys("erin"))
	}
}

// TestBouncedDeliveryIsRestoredAndSentAgain: a delivery that bounced is not confirmed; its
// secret, scheduled for deletion when it was sent, is restored so that the key is sent
// again, and is scheduled again once sent; the old key stays active meanwhile.
func TestBouncedDeliveryIsRestoredAndSentAgain(t *testing.T) {
	h := scenario.New(t)
	old := h.User("frank", nil, 85)[0]
	h.W.SetBounce("frank@"+domain, true)
	h.Day()
	sends := len(h.W.Messages())
	if secrets := h.HandoffSecrets("frank"); len(secrets) != 1 || secrets[0].DeletedDate == nil || sends == 0 {
		t.Fatalf("after the first send: secrets %v, %d messages; want one secret scheduled for deletion", secrets, sends)
	}
	h.Day() // the bounce is found: restored and sent again
	secrets := h.HandoffSecrets("frank")
	if len(secrets) != 1 {
		t.Fatalf("frank's secrets after the bounce: %v, want the one of the undelivered key", secrets)
	}
	var resent bool
	for _, m := range h.W.Messages()[sends:] {
		resent = resent || strings.Contains(string(m.Raw), secrets[0].Tags["key-rotator:access-key-id"])
	}
	if !resent {
		t.Errorf("the undelivered key %s was not sent again", secrets[0].Tags["key-rotator:access-key-id"])
	}
	if secrets[0].DeletedDate == nil {
		t.Errorf("the secret sent again is billable: not scheduled for deletion again")
	}
	if h.Keys("frank")[old] != types.StatusTypeActive {
		t.Errorf("the old key %s was deactivated while its replacement bounced (keys %v)", old, h.Keys("frank"))
	}
}

// TestRetriedNotifyUserSchedulesTheSecret: an attempt that sent the key but stopped before
// scheduling its secret's deletion leaves it to the retry, which sends nothing again.
func TestRetriedNotifyUserSchedulesTheSecret(t *testing.T) {
	h := scenario.New(t)
	h.User("gina", nil, 85)
	notes := h.Scan()
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*secretsmanager.DeleteSecretInput); ok && in.RecoveryWindowInDays != nil {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Notify(notes)
	h.W.Inject = nil
	if secrets := h.HandoffSecrets("gina"); len(secrets) != 1 || secrets[0].DeletedDate != nil {
		t.Fatalf("after the failed scheduling: %v, want one secret not scheduled", secrets)
	}
	sends := len(h.W.Messages())
	h.Notify(notes) // Step Functions' retry
	if len(h.W.Messages()) != sends {
		t.Errorf("the retry sent %d more messages, want none", len(h.W.Messages())-sends)
	}
	if secrets := h.HandoffSecrets("gina"); len(secrets) != 1 || secrets[0].DeletedDate == nil {
		t.Errorf("after the retry: %v, want the secret scheduled for deletion", secrets)
	}
}

// TestUnconfirmedSecretOutlivesItsRecoveryWindow: a user the runs cannot bring to a decision
// (here an unreadable pending mark fails the user every day) keeps its sent secret: the run
// restores it rather than let Secrets Manager delete it at the end of its recovery window,
// which would make an unconfirmed key count as delivered.
func TestUnconfirmedSecretOutlivesItsRecoveryWindow(t *testing.T) {
	h := scenario.New(t)
	h.User("hugo", nil, 85)
	h.W.SetBounce("hugo@"+domain, true)
	h.Day()
	h.SignedTag("hugo", history.PendingTag, "not a time")
	for range 10 {
		h.Day()
	}
	secrets := h.HandoffSecrets("hugo")
	if len(secrets) != 1 {
		t.Fatalf("hugo's hand-off secrets after 10 days of failed runs: %v, want the unconfirmed one kept", secrets)
	}
	if secrets[0].DeletedDate != nil {
		t.Errorf("the unconfirmed secret is still scheduled for deletion on %s", secrets[0].DeleteOn.Format(time.DateOnly))
	}
}

// TestBouncedSendOutlastsTwoWeeksWithoutRuns: a send that bounced is found by the first run
// that reaches the account, even after two weeks without one (the schedule disabled, the
// member role broken): the secret's recovery window outlasts the gap, so the key is sent
// again instead of counting as delivered because Secrets Manager deleted its secret.
func TestBouncedSendOutlastsTwoWeeksWithoutRuns(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ivan", nil, 85)[0]
	h.W.SetBounce("ivan@"+domain, true)
	h.Day()
	sent := h.HandoffSecrets("ivan")
	if len(sent) != 1 || sent[0].DeletedDate == nil {
		t.Fatalf("after the send: %v, want one secret scheduled for deletion", sent)
	}
	h.DayStart = h.DayStart.AddDate(0, 0, 14) // no run reaches the account for two weeks
	h.Now = h.DayStart
	sends := len(h.W.Messages())
	h.Day()
	secrets := h.HandoffSecrets("ivan")
	if len(secrets) != 1 || secrets[0].Name != sent[0].Name {
		t.Fatalf("ivan's hand-off secrets after two weeks without runs: %v, want the bounced one restored", secrets)
	}
	if len(h.W.Messages()) == sends {
		t.Errorf("the bounced key was not sent again")
	}
	if h.Keys("ivan")[old] != types.StatusTypeActive {
		t.Errorf("the old key %s is no longer active while its replacement bounced (keys %v)", old, h.Keys("ivan"))
	}
}
