package sim

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Found by the 20-seed campaign once issue 19's branches were merged (tags, trust, dates,
// appsecret): cases where two of them met.

// A DeliveryFailed email about an application's secret that no longer holds the new key
// names the day the old key goes; once the application restores its secret (the new key
// current again), the old key still goes on that day, not on the earlier one of the new-key
// email (invariant 8: the day told is the day the rotator acts).
func TestRestoredSecretKeepsTheDayTheFailureNoticeGave(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	for day := 0; day <= 30; day++ {
		switch day {
		case 1: // the application deletes its secret
			_, err := h.W.SecretsIn(scenario.Account).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/ci"), RecoveryWindowInDays: aws.Int64(30)})
			must(err)
		case 14: // and restores it: the new key is current again
			_, err := h.W.SecretsIn(scenario.Account).RestoreSecret(context.Background(), &secretsmanager.RestoreSecretInput{SecretId: aws.String("app/ci")})
			must(err)
		}
		today := h.Now.Format("2006-01-02")
		told := h.FailureDay("ci")
		h.Day()
		if told == "" {
			continue
		}
		switch status := h.Keys("ci")[old]; {
		case status == types.StatusTypeInactive && today < told:
			t.Fatalf("day %d (%s): the old key %s was deactivated, its owner was told %s (emails %q)", day, today, old, told, h.Subjects("ci"))
		case status == types.StatusTypeActive && today >= told:
			t.Fatalf("day %d (%s): the old key %s is still active, its owner was told %s (emails %q)", day, today, old, told, h.Subjects("ci"))
		case status == types.StatusTypeInactive:
			return
		}
	}
	t.Fatalf("the old key %s was never deactivated (emails %q)", old, h.Subjects("ci"))
}

// NotifyUser writes the new key to its application's secret, then fails before it marks the
// key sent (an email refused by SES); before Step Functions retries it, the application team
// withdraws the secret's opt-in, so the retry finds the secret refusing (AccessDenied) and
// marks the key refused. The key is in the secret and the application reads it: it counts as
// delivered, and is not deleted as undeliverable at the end of the bounded wait.
func TestKeyWrittenBeforeARefusedRetryIsNotDeletedAsUndeliverable(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.Scan()
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Notify(notes)
	h.W.Inject = nil
	got := h.AppReads("ci")
	if got == old {
		t.Fatal("the first attempt did not write the key to the secret")
	}
	must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
	h.Notify(notes) // the retry: refused
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	for day := 1; day <= 25; day++ {
		h.Day()
		if h.Keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q (keys %v, emails %q)", day, got, h.Keys("ci")[got], h.Keys("ci"), h.Subjects("ci"))
		}
	}
}
