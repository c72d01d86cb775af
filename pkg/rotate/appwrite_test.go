package rotate_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of NotifyUser's record of a write to the application's secret (pkg/handoff's
// 'writing' and 'written' marks) and of what the next runs make of it.

// TestKeyWhoseWriteRecordFailedIsNotDeletedWhenTheSecretHidesIt: NotifyUser writes the new
// key to its application's secret, then its record of the write (the hand-off secret's
// TagResource) fails past the SDK's retries; before Step Functions retries it, the
// application team withdraws the secret's opt-in, so the retry finds the secret refusing and
// the rotator may no longer look. The key may be in the secret (it is: the application reads
// it): it is not deleted as undeliverable at the end of the bounded wait (campaign seed 1,
// day 21, on the bounces branch: "the only keys the orphan rule deletes are keys nobody ever
// received").
func TestKeyWhoseWriteRecordFailedIsNotDeletedWhenTheSecretHidesIt(t *testing.T) {
	written := false
	keyWrittenThenOptInWithdrawnStaysActive(t, func(c awsmodel.Call) awsmodel.Fault {
		switch {
		case c.Operation == "PutSecretValue":
			written = true
		case written && c.Operation == "TagResource":
			return awsmodel.ServerError
		}
		return awsmodel.None
	})
}

// keyWrittenThenOptInWithdrawnStaysActive: NotifyUser's first attempt writes a machine
// user's new key to its application's secret and then fails as inject makes it; the secret's
// opt-in is withdrawn before the retry, which the secret refuses. For 25 days after, the key
// the application reads stays Active.
func keyWrittenThenOptInWithdrawnStaysActive(t *testing.T, inject func(awsmodel.Call) awsmodel.Fault) {
	t.Helper()
	h := scenario.New(t)
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.Scan()
	h.W.Inject = inject
	h.Notify(notes)
	h.W.Inject = nil
	got := h.AppReads("ci")
	if got == old {
		t.Fatal("the first attempt did not write the key to the secret")
	}
	scenario.Must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
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
	h := scenario.New(t)
	h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)
	notes := h.Scan()
	h.AppSecrets = countedWrites{API: h.W.SecretsIn(scenario.Account), err: &smithy.GenericAPIError{Code: "InternalServiceError", Message: "try again"}, n: new(int)}
	h.Notify(notes)
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	refused := countedWrites{API: h.W.SecretsIn(scenario.Account), err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}, n: new(int)}
	h.AppSecrets = refused
	h.Notify(h.Scan())
	first := *refused.n
	h.Now = h.Now.Add(30 * time.Minute)
	h.Notify(h.Scan()) // a re-run of the same day
	if first == 0 || *refused.n != first {
		t.Errorf("PutSecretValue calls: %d by the day's first run, %d in all; want the first run's write only", first, *refused.n)
	}
}

// TestKeyNeverWrittenToItsSecretIsGivenUpAtTheBoundedWait: NotifyUser's first attempt stops
// at its check of the application's secret (DescribeSecret 5xx past the SDK's retries), before
// any PutSecretValue; before the retry, the application team withdraws the secret's opt-in,
// so the retry finds it refusing and the rotator may no longer look. No write of the key was
// ever sent, so nothing can hold it: at the end of the bounded wait it is deleted as
// undeliverable with its hand-off secret, not kept as if the application might read it
// (campaign seed 12 day 24 on integrate dd6b17f, user041: "the wait for a new key's delivery
// is bounded", the attempt's 'writing' record made before its check).
func TestKeyNeverWrittenToItsSecretIsGivenUpAtTheBoundedWait(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = h.W.MemberSecretsIn(scenario.Account)
	old := h.MachineUser("ci", map[string]string{appsecret.OptInTag: "ci"}, 85)[0]
	notes := h.Scan()
	puts := 0
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		switch c.Operation {
		case "PutSecretValue":
			puts++
		case "DescribeSecret":
			if c.Account == scenario.Account {
				return awsmodel.ServerError
			}
		}
		return awsmodel.None
	}
	h.Notify(notes)
	h.W.Inject = nil
	scenario.Must(h.W.SetAppSecretTag(scenario.Account, "app/ci", appsecret.OptInTag, ""))
	h.Notify(notes) // the retry: refused
	if puts != 0 || h.AppReads("ci") != old {
		t.Fatalf("the first attempt wrote the key (%d PutSecretValue calls; the application reads %s)", puts, h.AppReads("ci"))
	}
	h.DayStart = h.DayStart.AddDate(0, 0, 1)
	h.Now = h.DayStart
	for day := 1; day <= 22; day++ {
		h.Day()
	}
	if left := h.HandoffSecrets("ci"); len(left) > 0 {
		t.Errorf("day 22: hand-off secret %s still waits past the bounded wait (keys %v, emails %q)", left[0].Name, h.Keys("ci"), h.Subjects("ci"))
	}
}
