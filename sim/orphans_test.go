package sim

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Issue 19, item 1: the UntagUser that clears the pending mark fails after the new key was
// stored; the next day's run confirms the delivery (and deletes the hand-off secret) before
// the user's own read, which is throttled; on the day after, the mark still covers the
// delivered key, now without a secret and not used yet. The orphan rule must not take it.
func TestDeliveredKeyIsNotDeletedAsAnOrphanOnceItsSecretIsGone(t *testing.T) {
	h := scenario.New(t)
	h.User("bob", nil, 85)
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.UntagUserInput); ok && slices.Contains(in.TagKeys, history.PendingTag) {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Day() // day 0: the key is created, stored and mailed; the mark stays
	got := h.Received("bob")
	if len(got) != 1 {
		t.Fatalf("bob received %v, want the new key", got)
	}
	newKey := got[0]
	if _, marked := h.W.Tags(scenario.Account, "bob")[history.PendingTag]; !marked {
		t.Fatal("the pending mark was cleared on day 0: the story needs it left in place")
	}
	// The owner does not use the new key yet.
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.ListAccessKeysInput); ok && aws.ToString(in.UserName) == "bob" {
			return awsmodel.Throttle
		}
		return awsmodel.None
	}
	h.Day() // day 1: the delivery is settled before bob's read, which is throttled
	h.W.Inject = nil
	for range 2 {
		h.Day()
	}
	if status, ok := h.Keys("bob")[newKey]; !ok || status != types.StatusTypeActive {
		t.Errorf("bob's delivered key %s was taken as an orphan (keys now %v)", newKey, h.Keys("bob"))
	}
}
