package sim

import (
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// Found by the 20-seed campaign once issue 19's branches were merged (tags, trust, dates,
// appsecret): cases where two of them met.

// failureDay is the day the owner's last DeliveryFailed email gives, "" when none.
func (h *harness) failureDay(user string) string {
	day := ""
	for _, s := range h.subjects(user) {
		if m := regexp.MustCompile(`will be deactivated on (\d{4}-\d{2}-\d{2}): ` + deliveryFailedSubject).FindStringSubmatch(s); m != nil {
			day = m[1]
		}
	}
	return day
}

// A DeliveryFailed email about an application's secret that no longer holds the new key
// names the day the old key goes; once the application restores its secret (the new key
// current again), the old key still goes on that day, not on the earlier one of the new-key
// email (invariant 8: the day told is the day the rotator acts).
func TestRestoredSecretKeepsTheDayTheFailureNoticeGave(t *testing.T) {
	h := newHarness(t)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	for day := 0; day <= 30; day++ {
		switch day {
		case 1: // the application deletes its secret
			_, err := h.w.SecretsIn(testAccount).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/ci"), RecoveryWindowInDays: aws.Int64(30)})
			must(err)
		case 14: // and restores it: the new key is current again
			_, err := h.w.SecretsIn(testAccount).RestoreSecret(context.Background(), &secretsmanager.RestoreSecretInput{SecretId: aws.String("app/ci")})
			must(err)
		}
		today := h.now.Format("2006-01-02")
		told := h.failureDay("ci")
		h.day()
		if told == "" {
			continue
		}
		switch status := h.keys("ci")[old]; {
		case status == types.StatusTypeInactive && today < told:
			t.Fatalf("day %d (%s): the old key %s was deactivated, its owner was told %s (emails %q)", day, today, old, told, h.subjects("ci"))
		case status == types.StatusTypeActive && today >= told:
			t.Fatalf("day %d (%s): the old key %s is still active, its owner was told %s (emails %q)", day, today, old, told, h.subjects("ci"))
		case status == types.StatusTypeInactive:
			return
		}
	}
	t.Fatalf("the old key %s was never deactivated (emails %q)", old, h.subjects("ci"))
}

// NotifyUser writes the new key to its application's secret, then fails before it marks the
// key sent (an email refused by SES); before Step Functions retries it, the application team
// withdraws the secret's opt-in, so the retry finds the secret refusing (AccessDenied) and
// marks the key refused. The key is in the secret and the application reads it: it counts as
// delivered, and is not deleted as undeliverable at the end of the bounded wait.
func TestKeyWrittenBeforeARefusedRetryIsNotDeletedAsUndeliverable(t *testing.T) {
	h := newHarness(t)
	h.appSecrets = h.w.MemberSecretsIn(testAccount)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.scan()
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.notify(notes)
	h.w.Inject = nil
	got := h.appReads("ci")
	if got == old {
		t.Fatal("the first attempt did not write the key to the secret")
	}
	must(h.w.SetAppSecretTag(testAccount, "app/ci", appsecret.OptInTag, ""))
	h.notify(notes) // the retry: refused
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
	for day := 1; day <= 25; day++ {
		h.day()
		if h.keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q (keys %v, emails %q)", day, got, h.keys("ci")[got], h.keys("ci"), h.subjects("ci"))
		}
	}
}

// TestKeyWhoseWriteRecordFailedIsNotDeletedWhenTheSecretHidesIt: NotifyUser writes the new
// key to its application's secret, then its record of the write (the hand-off secret's
// TagResource) fails past the SDK's retries; before Step Functions retries it, the
// application team withdraws the secret's opt-in, so the retry finds the secret refusing and
// the rotator may no longer look. The key may be in the secret (it is: the application reads
// it): it is not deleted as undeliverable at the end of the bounded wait (campaign seed 1,
// day 21, on the bounces branch: "the only keys the orphan rule deletes are keys nobody ever
// received").
func TestKeyWhoseWriteRecordFailedIsNotDeletedWhenTheSecretHidesIt(t *testing.T) {
	h := newHarness(t)
	h.appSecrets = h.w.MemberSecretsIn(testAccount)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.scan()
	written := false
	h.w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		switch {
		case c.Operation == "PutSecretValue":
			written = true
		case written && c.Operation == "TagResource":
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.notify(notes)
	h.w.Inject = nil
	got := h.appReads("ci")
	if got == old {
		t.Fatal("the first attempt did not write the key to the secret")
	}
	must(h.w.SetAppSecretTag(testAccount, "app/ci", appsecret.OptInTag, ""))
	h.notify(notes) // the retry: refused
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
	for day := 1; day <= 25; day++ {
		h.day()
		if h.keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q (keys %v, emails %q)", day, got, h.keys("ci")[got], h.keys("ci"), h.subjects("ci"))
		}
	}
}

// countedWrites is the member account's Secrets Manager whose PutSecretValue fails with err,
// counting the calls.
type countedWrites struct {
	appsecret.API
	err error
	n   *int
}

func (c countedWrites) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	*c.n++
	return nil, c.err
}

// TestWriteRefusedAfterAnInterruptedOneIsNotRetriedTheSameDay: NotifyUser's first attempt
// stops after recording that it begins to write the new key (the write fails, 5xx past the
// SDK's retries: the key may be in the secret); the next day the secret's KMS key refuses the
// write. The secret can be described and does not hold the key: the refusal is recorded, so a
// same-day re-run writes nothing (campaign seeds 6, 8 and 15 once the 'writing' record came
// in: "same-day re-run writes nothing", the record of an earlier day kept in place of it).
func TestWriteRefusedAfterAnInterruptedOneIsNotRetriedTheSameDay(t *testing.T) {
	h := newHarness(t)
	h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)
	notes := h.scan()
	h.appSecrets = countedWrites{API: h.w.SecretsIn(testAccount), err: &smithy.GenericAPIError{Code: "InternalServiceError", Message: "try again"}, n: new(int)}
	h.notify(notes)
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
	refused := countedWrites{API: h.w.SecretsIn(testAccount), err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}, n: new(int)}
	h.appSecrets = refused
	h.notify(h.scan())
	first := *refused.n
	h.now = h.now.Add(30 * time.Minute)
	h.notify(h.scan()) // a re-run of the same day
	if first == 0 || *refused.n != first {
		t.Errorf("PutSecretValue calls: %d by the day's first run, %d in all; want the first run's write only", first, *refused.n)
	}
}
