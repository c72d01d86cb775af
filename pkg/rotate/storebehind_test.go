package rotate_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the old key of a machine user while its application's secret does not
// hold the new key (policy.Key.StoreBehind), found by the 200-seed campaign on a696beb.

// Under the shortest limit (RotationDays 30: new key at 20, deactivated at 30, notice period
// 10) the new key reaches rotate-at 20 days after it was made, before the wait for the
// secret ends (2N past the old key's date, 30 days after the new key, when the owner never
// hears: their mail bounces). Its age does not make the old key deactivatable: while the
// secret's current value is not the new key, the old key waits for the bounded wait
// (campaign seed 35, day 87: "a key delivered to a store is deactivated only while the
// store's current value is its successor").
func TestOldKeyWaitsForTheSecretAfterTheNewKeyReachesRotationAge(t *testing.T) {
	h := scenario.New(t)
	old := h.User("ci", map[string]string{appsecret.DeliveryTag: appsecret.Scheme + "app/ci", policy.RotationDaysTag: "30"}, 25)[0]
	scenario.Must(h.W.CreateAppSecret(scenario.Account, "app/ci", `{"AccessKeyId":"`+old+`","SecretAccessKey":"original"}`,
		map[string]string{appsecret.OptInTag: "ci"}))
	h.W.SetBounce("ci@"+scenario.Domain, true) // the owner never hears
	h.Day()
	fresh := h.AppReads("ci")
	if fresh == old {
		t.Fatal("day 0 must write a new key to app/ci")
	}
	// The application's IaC writes the old key back.
	_, err := h.W.SecretsIn(scenario.Account).PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/ci"),
		SecretString: aws.String(`{"AccessKeyId":"` + old + `","SecretAccessKey":"original"}`)})
	scenario.Must(err)
	for day := 1; day < 30; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("day %d: the old key %s was deactivated while app/ci holds it, not the new key %s, and its owner was never told (the bounded wait ends on day 30; keys %v)",
				day, old, fresh, h.Keys("ci"))
		}
	}
	h.Day()
	if h.Keys("ci")[old] == types.StatusTypeActive {
		t.Errorf("day 30: the old key %s is still active, the bounded wait (its date plus twice the notice period) is over", old)
	}
}
