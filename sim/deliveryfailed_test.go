package sim

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Delivery to an application's secret that fails or is refused (issue 19, items 3 to 5): an
// owner with a usable email is told, with the reason, before any key of theirs is
// deactivated (DESIGN.md invariant 9), and a key whose successor went to a secret is
// deactivated only while the secret's current value is that successor (invariant 10).

// A secret that refuses keys before any is made (no opt-in tag, a name given as an ARN, a
// secret that does not exist): no new key, and the owner, whose email is valid, is told why
// before the key the application uses is deactivated.
func TestRefusedSecretTellsTheOwnerBeforeTheKeyIsDeactivated(t *testing.T) {
	for _, tc := range []struct {
		name     string
		delivery string // the KeyDelivery tag
		optIn    map[string]string
		reason   string
	}{
		{"no opt-in tag", "", nil, "lacks the tag key-rotator:user=ci"},
		{"a name given as an ARN", appsecret.Scheme + "arn:aws:secretsmanager:eu-west-1:111122223333:secret:app/ci", map[string]string{appsecret.OptInTag: "ci"}, "is not secretsmanager:<secret name>"},
		{"no such secret (another region's)", appsecret.Scheme + "app/elsewhere", map[string]string{appsecret.OptInTag: "ci"}, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			old := h.MachineUser("ci", tc.optIn, 85)[0]
			if tc.delivery != "" {
				must(h.W.SetTag(scenario.Account, "ci", appsecret.DeliveryTag, tc.delivery))
			}
			told := -1
			for day := 0; day <= 16; day++ {
				res := h.DayWith()
				if day == 0 && (len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, tc.reason)) {
					t.Errorf("the result must give the reason %q: %+v", tc.reason, res.Users)
				}
				if told < 0 && h.ToldOfFailure("ci") > 0 {
					told = day
				}
				if h.Keys("ci")[old] == types.StatusTypeInactive {
					if told < 0 || told >= day {
						t.Fatalf("day %d: the application's key %s was deactivated, the owner told of the failed delivery on day %d (emails %q)", day, old, told, h.Subjects("ci"))
					}
					break
				}
			}
			if len(h.Keys("ci")) != 1 || h.ToldOfFailure("ci") != 1 {
				t.Errorf("keys %v, %d notices of the failure (%q): want no new key and one notice", h.Keys("ci"), h.ToldOfFailure("ci"), h.Subjects("ci"))
			}
		})
	}
}

// deniedWrites is the member account's Secrets Manager whose secret's KMS key (or resource
// policy) denies the member role's PutSecretValue, persistently.
type deniedWrites struct {
	appsecret.API
	err error
}

func (d deniedWrites) PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	return nil, d.err
}

// A PutSecretValue denied by the secret's KMS key: the owner is told once, with the true
// reason, long before the bounded wait deletes the new key and deactivates the old one.
func TestDeniedWriteTellsTheOwnerOnceWithTheReason(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = deniedWrites{h.W.SecretsIn(scenario.Account), &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	told := -1
	for day := 0; day <= 25; day++ {
		h.Day()
		if told < 0 && h.ToldOfFailure("ci") > 0 {
			told = day
		}
		if h.Keys("ci")[old] == types.StatusTypeInactive && (told < 0 || told >= day) {
			t.Fatalf("day %d: the old key %s was deactivated, the owner told of the failed delivery on day %d (emails %q)", day, old, told, h.Subjects("ci"))
		}
	}
	if n := h.ToldOfFailure("ci"); n != 1 || told != 0 {
		t.Errorf("the owner was told %d times, first on day %d (emails %q): want once, on the day of the first failed write", n, told, h.Subjects("ci"))
	}
	if strings.Contains(h.Logs.String(), "lacks the tag") || !strings.Contains(h.Logs.String(), "KMS key") {
		t.Error("the failure must name the KMS key, not a missing tag")
	}
}

// A withdrawn opt-in on AWS: DescribeSecret answers AccessDenied. The user is not failed on
// every run: the owner is told, and the bounded wait ends it (the new key deleted).
func TestWithdrawnOptInEndsInTheBoundedWait(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account) // AccessDenied once the opt-in tag key is gone
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.Scan()
	newKey := ""
	for id := range h.Keys("ci") {
		if id != old {
			newKey = id
		}
	}
	must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, "")) // before NotifyUser writes
	h.Notify(notes)
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	for day := 1; day <= 21; day++ {
		res := h.DayWith()
		if err := scenario.Failed(res, "ci"); err != "" {
			t.Fatalf("day %d: the user failed: %s", day, err)
		}
		if h.Keys("ci")[old] == types.StatusTypeInactive && h.ToldOfFailure("ci") == 0 {
			t.Fatalf("day %d: the old key was deactivated and the owner never told", day)
		}
	}
	if _, ok := h.Keys("ci")[newKey]; ok || newKey == "" || h.ToldOfFailure("ci") != 1 {
		t.Errorf("after the bounded wait: keys %v (new key %s), %d notices of the failure: want the new key deleted and the owner told once", h.Keys("ci"), newKey, h.ToldOfFailure("ci"))
	}
}

// The application reverts its secret (IaC writes the old key back), or deletes it, after the
// rotator wrote the new key: the old key stays active on its date, the owner is told, and the
// bounded wait decides.
func TestRevertedSecretKeepsTheOldKeyActive(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  func(h *scenario.Harness, old string)
	}{
		{"IaC writes the old key back", func(h *scenario.Harness, old string) {
			_, err := h.W.SecretsIn(scenario.Account).PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/ci"),
				SecretString: aws.String(`{"AccessKeyId":"` + old + `","SecretAccessKey":"original"}`)})
			must(err)
		}},
		{"the application deletes its secret", func(h *scenario.Harness, _ string) {
			_, err := h.W.SecretsIn(scenario.Account).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/ci"), RecoveryWindowInDays: aws.Int64(30)})
			must(err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
			h.Day()
			tc.app(h, old)
			for day := 1; day <= 19; day++ {
				h.Day()
				if h.Keys("ci")[old] != types.StatusTypeActive {
					t.Fatalf("day %d: the old key %s was deactivated while its application's secret does not hold its successor (told %d times: %q)", day, old, h.ToldOfFailure("ci"), h.Subjects("ci"))
				}
			}
			if h.ToldOfFailure("ci") != 1 {
				t.Errorf("the owner was told %d times (%q), want once", h.ToldOfFailure("ci"), h.Subjects("ci"))
			}
			h.Day()
			if h.Keys("ci")[old] == types.StatusTypeActive {
				t.Errorf("day 20: the old key is still active, the bounded wait (its date plus %d days) is over", 10)
			}
		})
	}
}

// A key written to its secret whose opt-in is withdrawn before the next day's run: the member
// role may no longer describe the secret, but NotifyUser marked the key sent, which it does
// only after the write: the key counts as delivered, and is not deleted as undeliverable
// while its application reads it.
func TestWrittenKeyCountsAsDeliveredAfterTheOptInIsWithdrawn(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got := h.AppReads("ci")
	if got == old {
		t.Fatal("the key was not written to the secret")
	}
	must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
	for day := 1; day <= 25; day++ {
		h.Day()
		if h.Keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q", day, got, h.Keys("ci")[got])
		}
	}
}

// TestFailureNoticeToANewAddressGivesTheDayFirstTold: the owner told of a refused write
// that the old key goes on day X, who then changes their email tag, is told again at the new
// address: the same day X (the bounded wait counts from the new key's first date), not one
// moved later by the redelivery, which the key would not wait for (campaign seed 15, day 20:
// "a key is deactivated on the day its owner was told, not before").
func TestFailureNoticeToANewAddressGivesTheDayFirstTold(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = deniedWrites{h.W.SecretsIn(scenario.Account), &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	first, ok := toldDates(h.W.Messages())[old]
	if !ok {
		t.Fatalf("the owner was not told of the refused write on day 0 (emails %q)", h.Subjects("ci"))
	}
	for range 11 { // past the old key's date: the bounded wait is on
		h.Day()
	}
	must(h.W.SetTag(scenario.Account, "ci", "EmailID", "ci.new@"+domain))
	for range 3 {
		h.Day()
	}
	if len(h.W.Delivered("ci.new@"+domain)) == 0 {
		t.Fatalf("the owner was not told at the new address")
	}
	if again := toldDates(h.W.Messages())[old]; again != first {
		t.Errorf("the owner, first told %s goes on %s, was told %s at the new address", old, first, again)
	}
}
