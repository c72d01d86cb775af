package handoff

import (
	"context"
	"testing"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

// A key the application's secret refused is marked so (in the sent tag, the one tag
// NotifyUser may write): the listing says when, so that a same-day re-run does not send it
// again; it is not sent (no address, and a retry of the run sends it), and a later MarkSent
// replaces the mark.
func TestRefusedKeyIsMarkedNotSent(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	w := awsmodel.New(func() time.Time { return now }, 1)
	w.ListSecretsDelay = 0
	sm := w.Secrets()
	arn, err := Store(ctx, sm, Name("handoff/", "111122223333", "ci", "AKIA3000000000000001"), "",
		Value{AccessKeyID: "AKIA3000000000000001", SecretAccessKey: secret.New("s")},
		Pending{UserName: "ci", AccessKeyID: "AKIA3000000000000001", Replaces: "AKIA3000000000000000", DeactivateOn: "2026-12-05", DeliverTo: "app/ci"})
	if err != nil {
		t.Fatal(err)
	}
	if err := MarkRefused(ctx, sm, arn, now, "run-1"); err != nil {
		t.Fatal(err)
	}
	pending, problems, err := List(ctx, sm, "handoff/", "111122223333")
	p := pending["AKIA3000000000000001"]
	if err != nil || len(problems) != 0 || !p.Refused.Equal(now) || !p.Sent.IsZero() || p.SentTo != "" {
		t.Fatalf("listed %+v (problems %v, %v): want refused at %s and not sent", p, problems, err, now)
	}
	if sent, err := SentIn(ctx, sm, arn, "run-1"); err != nil || sent {
		t.Errorf("SentIn the refusing run = %v, %v; want false: a retry must try again", sent, err)
	}
	if err := MarkSent(ctx, sm, arn, now.Add(24*time.Hour), "run-2", "ci-team@example.com"); err != nil {
		t.Fatal(err)
	}
	pending, _, _ = List(ctx, sm, "handoff/", "111122223333")
	if p := pending["AKIA3000000000000001"]; p.Sent.IsZero() || p.SentTo != "ci-team@example.com" {
		t.Errorf("after MarkSent: %+v, want sent", p)
	}
}
