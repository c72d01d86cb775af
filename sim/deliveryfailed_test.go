package sim

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Delivery to an application's secret that fails or is refused (issue 19, items 3 to 5): an
// owner with a usable email is told, with the reason, before any key of theirs is
// deactivated (DESIGN.md invariant 9), and a key whose successor went to a secret is
// deactivated only while the secret's current value is that successor (invariant 10).

// deliveryFailedSubject is what the subject of the owner's notice of a failed delivery says.
const deliveryFailedSubject = "its replacement cannot be delivered"

// toldOfFailure counts the owner's emails telling that delivery to the secret fails.
func (h *harness) toldOfFailure(user string) int {
	n := 0
	for _, s := range h.subjects(user) {
		if strings.Contains(s, deliveryFailedSubject) {
			n++
		}
	}
	return n
}

// dayWith runs one daily execution like day, and returns ScanAndRotate's result.
func (h *harness) dayWith() workflow.AccountResult {
	h.t.Helper()
	res, notes := h.scanWith(context.Background())
	h.notify(notes)
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
	return res
}

// failed returns the error of user's result, if the run failed it.
func failed(res workflow.AccountResult, user string) string {
	for _, u := range res.Users {
		if u.UserName == user && u.Error != "" {
			return u.Error
		}
	}
	return ""
}

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
			h := newHarness(t)
			old := h.machineUser("ci", tc.optIn, 85)[0]
			if tc.delivery != "" {
				must(h.w.SetTag(testAccount, "ci", appsecret.DeliveryTag, tc.delivery))
			}
			told := -1
			for day := 0; day <= 16; day++ {
				res := h.dayWith()
				if day == 0 && (len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, tc.reason)) {
					t.Errorf("the result must give the reason %q: %+v", tc.reason, res.Users)
				}
				if told < 0 && h.toldOfFailure("ci") > 0 {
					told = day
				}
				if h.keys("ci")[old] == types.StatusTypeInactive {
					if told < 0 || told >= day {
						t.Fatalf("day %d: the application's key %s was deactivated, the owner told of the failed delivery on day %d (emails %q)", day, old, told, h.subjects("ci"))
					}
					break
				}
			}
			if len(h.keys("ci")) != 1 || h.toldOfFailure("ci") != 1 {
				t.Errorf("keys %v, %d notices of the failure (%q): want no new key and one notice", h.keys("ci"), h.toldOfFailure("ci"), h.subjects("ci"))
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
	h := newHarness(t)
	h.appSecrets = deniedWrites{h.w.SecretsIn(testAccount), &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	told := -1
	for day := 0; day <= 25; day++ {
		h.day()
		if told < 0 && h.toldOfFailure("ci") > 0 {
			told = day
		}
		if h.keys("ci")[old] == types.StatusTypeInactive && (told < 0 || told >= day) {
			t.Fatalf("day %d: the old key %s was deactivated, the owner told of the failed delivery on day %d (emails %q)", day, old, told, h.subjects("ci"))
		}
	}
	if n := h.toldOfFailure("ci"); n != 1 || told != 0 {
		t.Errorf("the owner was told %d times, first on day %d (emails %q): want once, on the day of the first failed write", n, told, h.subjects("ci"))
	}
	if strings.Contains(h.logs.String(), "lacks the tag") || !strings.Contains(h.logs.String(), "KMS key") {
		t.Error("the failure must name the KMS key, not a missing tag")
	}
}

// A withdrawn opt-in on AWS: DescribeSecret answers AccessDenied. The user is not failed on
// every run: the owner is told, and the bounded wait ends it (the new key deleted).
func TestWithdrawnOptInEndsInTheBoundedWait(t *testing.T) {
	h := newHarness(t)
	h.appSecrets = h.w.MemberSecretsIn(testAccount) // AccessDenied once the opt-in tag key is gone
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.scan()
	newKey := ""
	for id := range h.keys("ci") {
		if id != old {
			newKey = id
		}
	}
	must(h.w.SetAppSecretTag(testAccount, "app/ci", appsecret.OptInTag, "")) // before NotifyUser writes
	h.notify(notes)
	h.dayStart = h.dayStart.AddDate(0, 0, 1)
	h.now = h.dayStart
	for day := 1; day <= 21; day++ {
		res := h.dayWith()
		if err := failed(res, "ci"); err != "" {
			t.Fatalf("day %d: the user failed: %s", day, err)
		}
		if h.keys("ci")[old] == types.StatusTypeInactive && h.toldOfFailure("ci") == 0 {
			t.Fatalf("day %d: the old key was deactivated and the owner never told", day)
		}
	}
	if _, ok := h.keys("ci")[newKey]; ok || newKey == "" || h.toldOfFailure("ci") != 1 {
		t.Errorf("after the bounded wait: keys %v (new key %s), %d notices of the failure: want the new key deleted and the owner told once", h.keys("ci"), newKey, h.toldOfFailure("ci"))
	}
}

// The application reverts its secret (IaC writes the old key back), or deletes it, after the
// rotator wrote the new key: the old key stays active on its date, the owner is told, and the
// bounded wait decides.
func TestRevertedSecretKeepsTheOldKeyActive(t *testing.T) {
	for _, tc := range []struct {
		name string
		app  func(h *harness, old string)
	}{
		{"IaC writes the old key back", func(h *harness, old string) {
			_, err := h.w.SecretsIn(testAccount).PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: aws.String("app/ci"),
				SecretString: aws.String(`{"AccessKeyId":"` + old + `","SecretAccessKey":"original"}`)})
			must(err)
		}},
		{"the application deletes its secret", func(h *harness, _ string) {
			_, err := h.w.SecretsIn(testAccount).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/ci"), RecoveryWindowInDays: aws.Int64(30)})
			must(err)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
			h.day()
			tc.app(h, old)
			for day := 1; day <= 19; day++ {
				h.day()
				if h.keys("ci")[old] != types.StatusTypeActive {
					t.Fatalf("day %d: the old key %s was deactivated while its application's secret does not hold its successor (told %d times: %q)", day, old, h.toldOfFailure("ci"), h.subjects("ci"))
				}
			}
			if h.toldOfFailure("ci") != 1 {
				t.Errorf("the owner was told %d times (%q), want once", h.toldOfFailure("ci"), h.subjects("ci"))
			}
			h.day()
			if h.keys("ci")[old] == types.StatusTypeActive {
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
	h := newHarness(t)
	h.appSecrets = h.w.MemberSecretsIn(testAccount)
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.day()
	got := h.appReads("ci")
	if got == old {
		t.Fatal("the key was not written to the secret")
	}
	must(h.w.SetAppSecretTag(testAccount, "app/ci", appsecret.OptInTag, ""))
	for day := 1; day <= 25; day++ {
		h.day()
		if h.keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q", day, got, h.keys("ci")[got])
		}
	}
}

// TestFailureNoticeToANewAddressGivesTheDayFirstTold: the owner told of a refused write
// that the old key goes on day X, who then changes their email tag, is told again at the new
// address: the same day X (the bounded wait counts from the new key's first date), not one
// moved later by the redelivery, which the key would not wait for (campaign seed 15, day 20:
// "a key is deactivated on the day its owner was told, not before").
func TestFailureNoticeToANewAddressGivesTheDayFirstTold(t *testing.T) {
	h := newHarness(t)
	h.appSecrets = deniedWrites{h.w.SecretsIn(testAccount), &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.day()
	first, ok := toldDates(h.w.Messages())[old]
	if !ok {
		t.Fatalf("the owner was not told of the refused write on day 0 (emails %q)", h.subjects("ci"))
	}
	for range 11 { // past the old key's date: the bounded wait is on
		h.day()
	}
	must(h.w.SetTag(testAccount, "ci", "EmailID", "ci.new@"+domain))
	for range 3 {
		h.day()
	}
	if len(h.w.Delivered("ci.new@"+domain)) == 0 {
		t.Fatalf("the owner was not told at the new address")
	}
	if again := toldDates(h.w.Messages())[old]; again != first {
		t.Errorf("the owner, first told %s goes on %s, was told %s at the new address", old, first, again)
	}
}

// lostWrite is a member account's Secrets Manager whose PutSecretValue takes effect and
// then fails (its response lost after the SDK's retries, say): NotifyUser records nothing.
type lostWrite struct{ appsecret.API }

func (l lostWrite) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if _, err := l.API.PutSecretValue(ctx, in, opts...); err != nil {
		return nil, err
	}
	return nil, &smithy.GenericAPIError{Code: "InternalServiceError", Message: "response lost"}
}

// TestUsedKeyInASecretThatWithdrewItsOptInIsNotDeletedAsUndeliverable: NotifyUser wrote the
// new key to the application's secret but recorded nothing (the write's response was lost),
// and the application team then withdrew the secret's opt-in, so the member role is denied
// DescribeSecret and the rotator cannot see the key there. The application reads and uses
// the key: it was delivered, and the end of the bounded wait does not delete it (campaign
// seeds 113 day 20 and 140 day 84: "no active key in use is deleted"; 140 also "an owner
// with a usable email is told before any deactivation").
func TestUsedKeyInASecretThatWithdrewItsOptInIsNotDeletedAsUndeliverable(t *testing.T) {
	h := newHarness(t)
	h.appSecrets = lostWrite{h.w.MemberSecretsIn(testAccount)}
	old := h.machineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.day()
	fresh := h.appReads("ci")
	if fresh == old {
		t.Fatalf("day 0 must write a new key to app/ci")
	}
	h.appSecrets = h.w.MemberSecretsIn(testAccount)                          // AccessDenied once the opt-in tag key is gone
	must(h.w.SetAppSecretTag(testAccount, "app/ci", appsecret.OptInTag, "")) // withdrawn
	for day := 1; day <= 30; day++ {
		must(h.w.UseKey(testAccount, fresh, h.now.Add(-time.Hour), "s3", "us-east-1"))
		h.day()
		if _, ok := h.keys("ci")[fresh]; !ok {
			t.Fatalf("day %d: the new key %s, in the application's secret and used, was deleted as undeliverable (keys %v)", day, fresh, h.keys("ci"))
		}
	}
}
