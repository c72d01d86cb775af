package rotate_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// Scenario tests of key creation and the orphan rule (keys.go), run on the AWS model by
// sim/scenario.

// The regression tests of the numbered cases (Case N) of a key-safety review of the rotator: each ends with an owner without a
// working key they received, or a key destroyed without its notice, on the rotator as it
// was before the fix.

// Case 1: after the owner deactivated the first replacement, a second one is created for the
// same old key, and it is delivered (it carries the old key and its date).
func TestCase1SecondReplacementOfTheSameOldKeyIsDelivered(t *testing.T) {
	h := scenario.New(t)
	old := h.User("alice", nil, 85)[0]
	h.Day() // K1 created and delivered
	first := h.Received("alice")
	if len(first) != 1 {
		t.Fatalf("alice received %v after the first rotation, want one key", first)
	}
	h.Day() // the delivery is confirmed
	scenario.Must(h.W.SetKeyStatus(scenario.Account, first[0], types.StatusTypeInactive))
	for range 3 {
		h.Day()
	}
	got := h.Received("alice")
	if len(got) != 2 {
		t.Fatalf("alice received %v, want a second key replacing %s (keys now %v)", got, old, h.Keys("alice"))
	}
	if h.Keys("alice")[old] != types.StatusTypeActive {
		t.Errorf("the old key %s was deactivated before the second replacement reached alice", old)
	}
}

// Case 2: a failed UntagUser of the pending mark after the key was stored does not make the
// delivered key an orphan.
func TestCase2DeliveredKeyIsNotDeletedAsAnOrphan(t *testing.T) {
	h := scenario.New(t)
	h.User("bob", nil, 85)
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if in, ok := c.Input.(*iam.UntagUserInput); ok && slices.Contains(in.TagKeys, "key-rotator:pending") {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	h.Day()
	h.W.Inject = nil
	got := h.Received("bob")
	if len(got) != 1 {
		t.Fatalf("bob received %v, want the new key", got)
	}
	for range 3 {
		h.Day()
	}
	if _, ok := h.Keys("bob")[got[0]]; !ok {
		t.Errorf("bob's delivered key %s was deleted (keys %v)", got[0], h.Keys("bob"))
	}
}

// Case 3: while SES rejects every send, the new key is not a replacement: the old key stays
// active past T_r+N, until the bounded wait ends.
func TestCase3UndeliveredKeyIsNoReplacement(t *testing.T) {
	h := scenario.New(t)
	old := h.User("carol", nil, 85)[0]
	h.W.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "SendEmail" {
			return awsmodel.ServerError
		}
		return awsmodel.None
	}
	for range 15 {
		h.Day()
	}
	if len(h.Received("carol")) != 0 {
		t.Fatal("carol received a key while SES rejected every send")
	}
	if h.Keys("carol")[old] != types.StatusTypeActive {
		t.Errorf("carol's old key %s was deactivated 15 days after a replacement she never received (keys %v)", old, h.Keys("carol"))
	}
}

// Case 4: an exempt user gets no write, whatever rotator tags it carries.
func TestCase4ExemptUserWithAPendingMarkKeepsItsKeys(t *testing.T) {
	h := scenario.New(t)
	ids := h.User("dave", map[string]string{"Exempt": "true", "key-rotator:pending": "not a time"}, 200, 5)
	writes := 0
	h.W.Observe = func(c awsmodel.Call, _ any, _ error) {
		if c.Service == "IAM" && c.Writes() && strings.HasPrefix(c.Subject(), "dave") {
			writes++
		}
	}
	h.Day()
	if writes != 0 || len(h.Keys("dave")) != len(ids) {
		t.Errorf("exempt dave: %d writes, keys %v (had %v)", writes, h.Keys("dave"), ids)
	}
}

// A delivered key under a lingering pending mark: the UntagUser that clears the pending mark fails after the new key was
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
