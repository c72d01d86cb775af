package e2e

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestE2EBouncedDeliveryIsSentAgain: NotifyUser schedules a sent key's hand-off secret for
// deletion (no longer billed); when the address is on SES's suppression list the next day,
// the run restores the secret and sends the same key again, creating none, and the secret is
// scheduled again once sent; the old key stays active.
func TestE2EBouncedDeliveryIsSentAgain(t *testing.T) {
	t.Parallel()
	o := start(t, "testdata/ses-down.json")
	ex, dir := o.run(t, `{}`)
	mustSucceed(t, ex)
	first := deliveries(t, mails(t, ex, dir))
	pending := o.pending(t)
	if len(first) != 1 || len(pending) != 1 {
		t.Fatalf("delivered %v with secrets %v, want alice's new key and its secret", first, pending)
	}
	for id, p := range pending {
		if _, sent := first[id]; !sent || !p.Scheduled {
			t.Fatalf("secret of %s: %+v, want it sent and scheduled for deletion", id, p)
		}
	}

	ses := sesv2.NewFromConfig(o.sb.Config())
	if _, err := ses.PutSuppressedDestination(context.Background(), &sesv2.PutSuppressedDestinationInput{
		EmailAddress: aws.String("alice@example.com"), Reason: sestypes.SuppressionListReasonBounce}); err != nil {
		t.Fatal(err)
	}
	o.advance(t, 24*time.Hour)
	before := o.state(t, "prod")["prod"]
	ex, dir = o.run(t, `{}`)
	mustSucceed(t, ex)
	again := deliveries(t, mails(t, ex, dir))
	if !slices.Equal(slices.Sorted(maps.Keys(first)), slices.Sorted(maps.Keys(again))) || ex.Report.Totals.KeysCreated != 0 {
		t.Errorf("sent %v (%d keys created), want alice's key sent again, no new one", again, ex.Report.Totals.KeysCreated)
	}
	for id, p := range o.pending(t) {
		if _, sent := again[id]; !sent || !p.Scheduled {
			t.Errorf("secret of %s: %+v, want it sent again and scheduled for deletion again", id, p)
		}
	}
	after := o.state(t, "prod")["prod"]
	old := userNamed(t, before, "alice").Keys
	if alice := userNamed(t, after, "alice"); !slices.EqualFunc(old, alice.Keys, func(a, b sandboxtest.Key) bool { return a.AccessKeyID == b.AccessKeyID && a.Status == b.Status }) {
		t.Errorf("alice's keys %v → %v, want them unchanged while her new key bounces", old, alice.Keys)
	}
}
