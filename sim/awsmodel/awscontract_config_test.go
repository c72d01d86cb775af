package awsmodel

import (
	"fmt"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// contractTarget is the real AWS account make aws-contract runs the conformance sequence in,
// read from its environment (getenv), or why it refuses: the account ID, its confirmation
// (CONFIRM, the same ID typed again: the sequence creates and deletes IAM users, keys and
// secrets there), and two SES identities verified in that account's SES sandbox (SENDER and
// RECIPIENT). The sequence's names get a suffix unique to the run (suffix).
func contractTarget(getenv func(string) string, suffix string) (account string, n names, err error) {
	account = getenv("KEYROTATOR_CONTRACT_ACCOUNT")
	sender, recipient := getenv("KEYROTATOR_CONTRACT_SENDER"), getenv("KEYROTATOR_CONTRACT_RECIPIENT")
	usage := "make aws-contract ACCOUNT=<12-digit ID> CONFIRM=<the same ID> SENDER=<verified address> RECIPIENT=<verified address>, " +
		"with AWS credentials of that account (AWS_PROFILE): it creates and deletes IAM users, access keys and secrets named " +
		"key-rotator-contract-* there"
	switch {
	case !workflow.ValidAccountID(account):
		return "", n, fmt.Errorf("no account: %s", usage)
	case getenv("KEYROTATOR_CONTRACT_CONFIRM") != account:
		return "", n, fmt.Errorf("account %s not confirmed (CONFIRM must repeat it): %s", account, usage)
	case !strings.Contains(sender, "@") || !strings.Contains(recipient, "@"):
		return "", n, fmt.Errorf("SENDER and RECIPIENT must be email addresses verified in the account's SES: %s", usage)
	}
	prefix := "key-rotator-contract-" + suffix
	return account, names{user: prefix + "-alice", nobody: prefix + "-nobody", secrets: prefix,
		sender: sender, recipient: recipient, unverified: "nobody@" + prefix + ".invalid"}, nil
}

// TestAWSContractRefusesUnconfigured: make aws-contract runs only against an account named
// twice, with the SES addresses it needs.
func TestAWSContractRefusesUnconfigured(t *testing.T) {
	full := map[string]string{"KEYROTATOR_CONTRACT_ACCOUNT": "111122223333", "KEYROTATOR_CONTRACT_CONFIRM": "111122223333",
		"KEYROTATOR_CONTRACT_SENDER": "me@example.com", "KEYROTATOR_CONTRACT_RECIPIENT": "you@example.com"}
	without := func(key, value string) func(string) string {
		return func(k string) string {
			if k == key {
				return value
			}
			return full[k]
		}
	}
	for _, tt := range []struct{ name, key, value, want string }{
		{"no account", "KEYROTATOR_CONTRACT_ACCOUNT", "", "no account"},
		{"not an account ID", "KEYROTATOR_CONTRACT_ACCOUNT", "prod", "no account"},
		{"not confirmed", "KEYROTATOR_CONTRACT_CONFIRM", "", "not confirmed"},
		{"confirmed another", "KEYROTATOR_CONTRACT_CONFIRM", "444455556666", "not confirmed"},
		{"no sender", "KEYROTATOR_CONTRACT_SENDER", "", "SENDER and RECIPIENT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := contractTarget(without(tt.key, tt.value), "x"); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one saying %q", err, tt.want)
			}
		})
	}
	account, n, err := contractTarget(without("", ""), "r1")
	if err != nil || account != "111122223333" || n.user != "key-rotator-contract-r1-alice" || n.sender != "me@example.com" {
		t.Errorf("configured: %s %+v %v", account, n, err)
	}
}
