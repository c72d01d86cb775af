package sim

import (
	"testing"

	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/sim/scenario"
)

// A scenario test that reads the days told as the checker does (toldDates, invariant 8).

// TestFailureNoticeToANewAddressGivesTheDayFirstTold: the owner told of a refused write
// that the old key goes on day X, who then changes their email tag, is told again at the new
// address: the same day X (the bounded wait counts from the new key's first date), not one
// moved later by the redelivery, which the key would not wait for (campaign seed 15, day 20:
// "a key is deactivated on the day its owner was told, not before").
func TestFailureNoticeToANewAddressGivesTheDayFirstTold(t *testing.T) {
	h := scenario.New(t)
	h.AppSecrets = scenario.DeniedWrites{API: h.W.SecretsIn(scenario.Account), Err: &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "Access to KMS is not allowed"}}
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
