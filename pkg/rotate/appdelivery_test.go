package rotate_test

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
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of the delivery of machine users' keys to their application's secret
// (delivery.go, pkg/appsecret), run on the AWS model by sim/scenario.

// The delivery of machine users' keys to their application's secret (docs/machine-users.md).

func TestKeyGoesToTheSecretAndTheOldKeyIsDeactivatedOnItsDay(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	got := h.AppReads("ci")
	if got == old || h.Keys("ci")[got] != types.StatusTypeActive {
		t.Fatalf("after the run the application reads %s, want the new active key (keys %v)", got, h.Keys("ci"))
	}
	subjects := h.Subjects("ci")
	if len(subjects) != 1 || !strings.Contains(subjects[0], "is in secret app/ci") || len(h.Received("ci")) != 0 {
		t.Errorf("the owner got %q, want one notice naming the secret and no zip", subjects)
	}
	for day := 1; day < 10; day++ {
		h.Day()
		if h.Keys("ci")[old] != types.StatusTypeActive {
			t.Fatalf("the old key %s was deactivated on day %d, before its date 10 days after the new key", old, day)
		}
	}
	h.Day()
	if h.Keys("ci")[old] != types.StatusTypeInactive || h.Keys("ci")[got] != types.StatusTypeActive || h.AppReads("ci") != got {
		t.Errorf("on its day the old key must be inactive and the application's key active: keys %v, application reads %s", h.Keys("ci"), h.AppReads("ci"))
	}
}

// A refused secret: the user gets no new key, the result says why, and its owner, whose
// email is usable, is told why (DeliveryFailed, DESIGN.md invariant 9), also when the
// refusal is AWS denying the member role (AccessDenied).
func TestSecretWithoutOptInIsRefusedBeforeAnyKeyIsMade(t *testing.T) {
	for _, tc := range []struct {
		name   string
		optIn  map[string]string
		onAWS  bool   // the member role's tag condition denies what it does not allow
		reason string // in the result's EmailProblem
	}{
		{"no tag", nil, false, "it lacks the tag key-rotator:user=ci"},
		{"another user's secret", map[string]string{appsecret.OptInTag: "deployer"}, false, `its tag key-rotator:user names "deployer"`},
		{"no tag, denied by the member role", nil, true, "it lacks the tag key-rotator:user=ci, or does not exist, or its resource policy denies the rotator's member role: the member role is denied access to it (AccessDeniedException)"},
		{"another user's secret, seen by the member role", map[string]string{appsecret.OptInTag: "deployer"}, true, `its tag key-rotator:user names "deployer"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := scenario.New(t)
			if tc.onAWS {
				h.AppSecrets = h.W.MemberSecretsIn(scenario.Account) // its grant needs the tag key: AccessDenied
			}
			old := h.MachineUser("ci", tc.optIn, 85)[0]
			creates := 0
			h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
				if c.Operation == "CreateAccessKey" || c.Operation == "PutSecretValue" {
					creates++
				}
				return awsmodel.None
			}
			res, notes := h.ScanWith(t.Context())
			h.Notify(notes)
			if creates != 0 || len(h.Keys("ci")) != 1 || h.AppReads("ci") != old {
				t.Fatalf("%d CreateAccessKey/PutSecretValue calls, keys %v, application reads %s: want nothing created", creates, h.Keys("ci"), h.AppReads("ci"))
			}
			if len(res.Users) != 1 || !strings.Contains(res.Users[0].EmailProblem, "secret app/ci refuses the keys of ci: "+tc.reason) {
				t.Errorf("the result must report the refusal: %+v", res.Users)
			}
			if len(notes) != 1 || len(notes[0].Notices) != 1 || notes[0].Notices[0].Kind != policy.DeliveryFailed ||
				!strings.Contains(notes[0].Notices[0].Message, tc.reason) || h.ToldOfFailure("ci") != 1 {
				t.Errorf("notifications %+v, owner's emails %q: want one notice of the failed delivery, with its reason", notes, h.Subjects("ci"))
			}
		})
	}
}

// A lost PutSecretValue response, a NotifyUser retried after it succeeded, and SES down for
// the owner's notices: the secret gets one new key, which counts as delivered once written
// (its deletion after the bounded wait would break the application), and the old key waits
// for a warning that reached the owner, or for the bounded wait's end (N days past its date).
func TestSecretDeliveryUnderFaults(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	puts := 0
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		switch c.Operation {
		case "PutSecretValue":
			if puts++; puts == 1 {
				return awsmodel.LostResponse
			}
		case "SendEmail":
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	notes := h.Scan()
	for range 3 { // NotifyUser, retried by the state machine
		h.Notify(notes)
	}
	got := h.AppReads("ci")
	if got == old {
		t.Fatal("the key was not written to the secret")
	}
	for day := 1; day <= 25; day++ {
		h.Day()
		keys := h.Keys("ci")
		switch {
		case h.AppReads("ci") != got:
			t.Fatalf("day %d: the application's key changed from %s to %s: a second new key was written", day, got, h.AppReads("ci"))
		case keys[got] != types.StatusTypeActive:
			t.Fatalf("day %d: the key the application reads is gone or inactive: %v", day, keys)
		case day < 20 && keys[old] != types.StatusTypeActive:
			t.Fatalf("day %d: the old key was deactivated before the owner was warned or the bounded wait ended: %v", day, keys)
		}
	}
	if strings.Contains(h.Logs.String(), "original") {
		t.Error("a secret value reached the logs")
	}
}

// Delivery to an application's secret that fails or is refused (docs/policy.md, invariants): an
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
				scenario.Must(h.W.SetTag(scenario.Account, "ci", appsecret.DeliveryTag, tc.delivery))
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

// A PutSecretValue denied by the secret's KMS key: the owner is told once, with the true
// reason, long before the bounded wait deletes the new key and deactivates the old one.
func TestDeniedWriteTellsTheOwnerOnceWithTheReason(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = scenario.DeniedWrites{API: h.W.SecretsIn(scenario.Account), Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
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
	old, newKey := optInWithdrawnBeforeTheWrite(h)
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

// optInWithdrawnBeforeTheWrite makes machine user ci, whose application secret app/ci opts in,
// with a key 85 days old, runs a day in which the rotator makes its new key and the
// application team withdraws the opt-in just before NotifyUser writes it, and starts the
// next day. It returns the old key and the new one.
func optInWithdrawnBeforeTheWrite(h *scenario.Harness) (old, newKey string) {
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account) // AccessDenied once the opt-in tag key is gone
	old = h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.Scan()
	for id := range h.Keys("ci") {
		if id != old {
			newKey = id
		}
	}
	scenario.Must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
	h.Notify(notes)
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	return old, newKey
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
			scenario.Must(err)
		}},
		{"the application deletes its secret", func(h *scenario.Harness, _ string) {
			_, err := h.W.SecretsIn(scenario.Account).DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String("app/ci"), RecoveryWindowInDays: aws.Int64(30)})
			scenario.Must(err)
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
	scenario.Must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
	for day := 1; day <= 25; day++ {
		h.Day()
		if h.Keys("ci")[got] != types.StatusTypeActive {
			t.Fatalf("day %d: the key the application reads, %s, is %q", day, got, h.Keys("ci")[got])
		}
	}
}

// Found by the 20-seed campaign once the fixes for tag case, forged tags, dates told and
// application secrets were merged: cases where two of them met.

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
			scenario.Must(err)
		case 14: // and restores it: the new key is current again
			_, err := h.W.SecretsIn(scenario.Account).RestoreSecret(context.Background(), &secretsmanager.RestoreSecretInput{SecretId: aws.String("app/ci")})
			scenario.Must(err)
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
	keyWrittenThenOptInWithdrawnStaysActive(t, func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	})
}

// A new key written to the application's secret and used reached its application, whatever
// the secret holds since (the application deleted its secret): the end of the bounded wait
// does not delete it as undelivered (campaign seed 1, day 21: "no active key in use is
// deleted").
func TestUsedKeyWrittenToTheAppSecretIsNotDeletedAsUndeliverable(t *testing.T) {
	h := scenario.New(t)
	old := h.MachineUser("uma", map[string]string{appsecret.OptInTag: "uma"}, 85)[0]
	h.Day()
	fresh := h.AppReads("uma")
	if fresh == old {
		t.Fatalf("day 0 must write a new key to app/uma")
	}
	scenario.Must(h.W.UseKey(scenario.Account, fresh, h.Now.Add(-time.Hour), "s3", "us-east-1"))
	scenario.Must(h.W.DeleteAppSecret(scenario.Account, "app/uma", 7))
	for range 30 {
		h.Day()
	}
	if _, ok := h.Keys("uma")[fresh]; !ok {
		t.Errorf("the new key %s, used by the application, was deleted as undeliverable (keys %v)", fresh, h.Keys("uma"))
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

// NotifyUser wrote the new key to the application's secret but recorded nothing (the
// write's response was lost), and the application team then withdrew the secret's opt-in,
// so the member role is denied DescribeSecret and the rotator cannot see the key there. The
// application reads and uses the key: it was delivered, and the end of the bounded wait
// does not delete it (campaign seeds 113 day 20 and 140 day 84: "no active key in use is
// deleted"; 140 also "an owner with a usable email is told before any deactivation").
func TestUsedKeyInASecretThatWithdrewItsOptInIsNotDeletedAsUndeliverable(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = lostWrite{h.W.MemberSecretsIn(scenario.Account)}
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	h.Day()
	fresh := h.AppReads("ci")
	if fresh == old {
		t.Fatalf("day 0 must write a new key to app/ci")
	}
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account)                                   // AccessDenied once the opt-in tag key is gone
	scenario.Must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, "")) // withdrawn
	for day := 1; day <= 30; day++ {
		scenario.Must(h.W.UseKey(scenario.Account, fresh, h.Now.Add(-time.Hour), "s3", "us-east-1"))
		h.Day()
		if _, ok := h.Keys("ci")[fresh]; !ok {
			t.Fatalf("day %d: the new key %s, in the application's secret and used, was deleted as undeliverable (keys %v)", day, fresh, h.Keys("ci"))
		}
	}
}
