package rotate_test

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

// Scenario tests of a new key's delivery through its hand-off secret and its confirmation
// (delivery.go), run on the AWS model by sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 8: a retry seconds after a key was created, when IAM does not list the key yet, keeps
// its hand-off secret.
func TestCase8NewKeyNotListedYetKeepsItsSecret(t *testing.T) {
	h := scenario.New(t)
	h.User("ivy", nil, 85)
	h.Scan() // the key is created and stored; the notification's response is lost
	h.Now = h.Now.Add(2 * time.Second)
	h.Notify(h.Scan()) // Step Functions retries at once: IAM does not list the key yet
	secrets := 0
	for _, s := range h.W.SecretsList() {
		if s.DeletedDate == nil {
			secrets++
		}
	}
	if secrets == 0 && len(h.Received("ivy")) == 0 {
		t.Errorf("ivy's new key lost its secret before it was delivered (keys %v)", h.Keys("ivy"))
	}
}

// A key pending delivery whose old key rule 2 deletes in the run that redelivers it: the
// new-key email no longer warns about the old key, and NotifyUser must not record a
// NewKeyIssued notice for a key that is gone, or the same day's next run prunes it (a write,
// breaking the quiet same-day re-run; make faults, seed 68).
func TestRedeliveryAfterTheOldKeyIsDeletedLeavesNothingToPrune(t *testing.T) {
	h := scenario.New(t)
	h.User("dev", nil)
	// Made 89 days ago and never used: rotated today (80 days), deleted by rule 2 (unused
	// at 90 days) tomorrow.
	old, _, err := h.W.AddKey(scenario.Account, "dev", h.Now.AddDate(0, 0, -89), types.StatusTypeActive)
	scenario.Must(err)
	h.Now = h.Now.Add(time.Minute)
	sesDown := true
	var writes []string
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Service == "IAM" && c.Writes() && c.Operation != "GenerateCredentialReport" {
			writes = append(writes, c.Operation)
		}
		if c.Operation == "SendEmail" && sesDown {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Day() // rotation: a new key, whose delivery fails
	if len(h.Keys("dev")) != 2 {
		t.Fatalf("day 0 must create a new key: keys %v", h.Keys("dev"))
	}
	sesDown = false
	h.Notify(h.Scan()) // day 1: the old key is deleted, the new one redelivered
	if _, ok := h.Keys("dev")[old]; ok {
		t.Fatalf("day 1 must delete the unused old key %s: keys %v", old, h.Keys("dev"))
	}
	if len(h.Received("dev")) != 1 {
		t.Fatalf("the new key must be delivered on day 1, got %v", h.Received("dev"))
	}
	if notices := h.W.Tags(scenario.Account, "dev")[history.NoticesTag]; strings.Contains(notices, old) {
		t.Errorf("the notices tag remembers the deleted key %s: %q", old, notices)
	}
	h.Now = h.Now.Add(30 * time.Minute)
	writes = nil
	h.Notify(h.Scan()) // the same day's re-run
	if len(writes) != 0 {
		t.Errorf("a same-day re-run wrote to IAM: %v", writes)
	}
}

// The hand-off secret's billed life (its part of a run's cost, BENCHMARKS.md): Secrets Manager charges nothing for a
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
	h.W.SetBounce("frank@"+scenario.Domain, true)
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
	h.W.SetBounce("hugo@"+scenario.Domain, true)
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
	h.W.SetBounce("ivan@"+scenario.Domain, true)
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
