package lambdas_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
)

// TestNotifyToRejectedRecipientKeepsTheKey: in the SES sandbox (an account without
// production access) SES rejects every unverified recipient with MessageRejected. NotifyUser
// fails with an error that retrying will not cure (the ASL's Catch tells SNS), and no key is
// lost: the new key stays in IAM and in its hand-off secret, the old key stays active, and
// once the address can receive mail the same notification delivers the key (its secret stays
// until the next day's run confirms the delivery).
func TestNotifyToRejectedRecipientKeepsTheKey(t *testing.T) {
	sc, err := sandbox.LoadScenario(filepath.Join("testdata", "org.json"))
	if err != nil {
		t.Fatal(err)
	}
	sc.SESSandbox = &sandbox.SESSandbox{} // only the sender is verified
	r := rigFor(t, sandboxtest.New(t, sc))
	ctx := context.Background()
	n := r.judysNewKey("run-ses-sandbox")

	_, err = r.deliver.Handle(ctx, n)
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "MessageRejected" {
		t.Fatalf("delivery to an unverified recipient: error %v, want MessageRejected", err)
	}
	if name := workflow.ErrorName(err); name != workflow.ErrFatal {
		t.Errorf("MessageRejected reaches the ASL as %s, want *workflow.FatalError (no retry cures it; the Catch tells SNS)", name)
	}
	if len(r.handoffSecrets()) != 1 || !keyExistsAnywhere(r, n.NewKey.AccessKeyID) || !keyExistsAnywhere(r, n.NewKey.ReplacesAccessKeyID) {
		t.Fatalf("after a rejected delivery: secrets %v, new key %s active %v, old key %s active %v; want both keys and the secret kept",
			r.handoffSecrets(), n.NewKey.AccessKeyID, keyExistsAnywhere(r, n.NewKey.AccessKeyID),
			n.NewKey.ReplacesAccessKeyID, keyExistsAnywhere(r, n.NewKey.ReplacesAccessKeyID))
	}
	if emails := r.emails(); len(emails) != 0 {
		t.Errorf("%d emails sent, want none", len(emails))
	}

	// The owner's address is verified (or the account leaves the sandbox): delivered.
	if _, err := sesv2.NewFromConfig(r.sb.Config()).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(n.Email)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.deliver.Handle(ctx, n); err != nil {
		t.Fatalf("delivery once the address is verified: %v", err)
	}
	keys := deliveredKeys(t, r.emails())
	if len(keys) != 1 || keys[0].accessKeyID != n.NewKey.AccessKeyID || len(r.handoffSecrets()) != 1 {
		t.Errorf("delivered %d keys (want judy's %s once); secrets left %v (want the one awaiting confirmation)", len(keys), n.NewKey.AccessKeyID, r.handoffSecrets())
	}
}
