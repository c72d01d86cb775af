package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// KMSAPI reads the hand-off key and its policy, in the rotator's account.
type KMSAPI interface {
	DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
	GetKeyPolicy(context.Context, *kms.GetKeyPolicyInput, ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error)
}

// useActions are the KMS actions that use a key's material: whoever the key policy allows
// one of them can read (or make) what the key protects.
var useActions = []string{"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext",
	"kms:GenerateDataKeyPair", "kms:GenerateDataKeyPairWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:CreateGrant"}

// HandoffKey passes when the policy of the key that encrypts the hand-off secrets (the new
// keys on their way to NotifyUser) lets only the rotator's two functions use it, each for its
// own part, as the stack synthesizes it: ScanAndRotate's role encrypts (kms:GenerateDataKey)
// and decrypts only Secrets Manager's check of its access (the encryption context's
// SecretVersionId is config.SecretsKeyAccessCheck), NotifyUser's role decrypts. The
// account's own statement administers the key without using it: a policy that grants the
// account (or anyone else) a use action lets every principal its IAM policies allow read the
// new keys in transit. account and partition are the rotator's.
func HandoffKey(api KMSAPI, account, partition string) Check {
	return func(ctx context.Context) Result {
		const name = "hand-off key policy"
		key, err := api.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(statemachine.HandoffKeyAlias)})
		var notFound *kmstypes.NotFoundException
		switch {
		case errors.As(err, &notFound):
			return cannotTell(name, fmt.Errorf("the key %s does not exist yet", statemachine.HandoffKeyAlias), notDeployed)
		case err != nil:
			return cannotTell(name, fmt.Errorf("KMS DescribeKey %s: %w", statemachine.HandoffKeyAlias, err), "allow kms:DescribeKey and kms:GetKeyPolicy on the key to the credentials preflight runs with")
		}
		out, err := api.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: key.KeyMetadata.KeyId, PolicyName: aws.String("default")})
		if err != nil {
			return cannotTell(name, fmt.Errorf("KMS GetKeyPolicy of %s: %w", statemachine.HandoffKeyAlias, err), "allow kms:GetKeyPolicy on the key to the credentials preflight runs with")
		}
		role := func(n string) string { return "arn:" + partition + ":iam::" + account + ":role/" + n }
		findings, err := keyPolicyFindings(aws.ToString(out.Policy), role(statemachine.ScanRoleName), role(statemachine.NotifyRoleName))
		if err != nil {
			return cannotTell(name, fmt.Errorf("the policy of %s: %w", statemachine.HandoffKeyAlias, err), "read it with aws kms get-key-policy")
		}
		if len(findings) > 0 {
			return fail(name, fmt.Sprintf("the policy of %s (%s) is not the stack's: %s", statemachine.HandoffKeyAlias, aws.ToString(key.KeyMetadata.KeyId), strings.Join(findings, "; ")),
				"deploy the rotator stack again (npx cdk deploy), which puts its key policy back, and find out who changed it (CloudTrail PutKeyPolicy)")
		}
		return pass(name, fmt.Sprintf("only %s encrypts and %s decrypts the new keys in transit (%s)", statemachine.ScanRoleName, statemachine.NotifyRoleName, statemachine.HandoffKeyAlias))
	}
}

// keyPolicyStatement is what the check reads of a key policy's statement.
type keyPolicyStatement struct {
	Sid       string
	Effect    string
	Principal any
	Action    any
	Condition map[string]map[string]any
}

// keyPolicyFindings lists how policy departs from the stack's: a use of the key allowed to
// anyone but its part's role, or a part of the rotator's that no statement allows.
func keyPolicyFindings(policy, scanRole, notifyRole string) ([]string, error) {
	var doc struct{ Statement []keyPolicyStatement }
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return nil, err
	}
	var findings []string
	encrypts, decrypts := false, false
	for _, st := range doc.Statement {
		uses := slices.DeleteFunc(slices.Clone(useActions), func(a string) bool { return !grants(st.Action, a) })
		if st.Effect != "Allow" || len(uses) == 0 {
			continue
		}
		for _, p := range principals(st.Principal) {
			switch {
			case p == notifyRole && slices.Equal(uses, []string{"kms:Decrypt"}):
				decrypts = true
			case p == scanRole && slices.Equal(uses, []string{"kms:GenerateDataKey"}):
				encrypts = true
			case p == scanRole && slices.Equal(uses, []string{"kms:Decrypt"}) && accessCheckOnly(st.Condition):
			default:
				findings = append(findings, fmt.Sprintf("statement %q lets %s use the key (%s)", st.Sid, p, strings.Join(uses, ", ")))
			}
		}
	}
	if !encrypts {
		findings = append(findings, fmt.Sprintf("no statement lets %s encrypt (kms:GenerateDataKey): no new key can be stored", scanRole))
	}
	if !decrypts {
		findings = append(findings, fmt.Sprintf("no statement lets %s decrypt (kms:Decrypt): no new key can be sent", notifyRole))
	}
	return findings, nil
}

// grants reports whether a statement's Action (a string or a list, with IAM's wildcards,
// compared case-insensitively) covers action.
func grants(actions any, action string) bool {
	for _, pattern := range list(actions) {
		re := "(?i)^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
		if regexp.MustCompile(re).MatchString(action) {
			return true
		}
	}
	return false
}

// principals lists a statement's principals: "*" for anyone, else its AWS principals (an ARN,
// an account ID, or the unique ID KMS shows for a role deleted since).
func principals(p any) []string {
	if p == "*" {
		return []string{"*"}
	}
	m, _ := p.(map[string]any)
	var out []string
	for kind, v := range m {
		for _, id := range list(v) {
			out = append(out, map[bool]string{true: id, false: kind + ":" + id}[kind == "AWS"])
		}
	}
	return out
}

// accessCheckOnly reports whether a statement's conditions limit it to Secrets Manager's
// check of the caller's access to the key (no secret's version is ever decrypted so).
func accessCheckOnly(conditions map[string]map[string]any) bool {
	for _, values := range conditions {
		for key, v := range values {
			if strings.EqualFold(key, "kms:EncryptionContext:SecretVersionId") && slices.Equal(list(v), []string{config.SecretsKeyAccessCheck}) {
				return true
			}
		}
	}
	return false
}

// list reads a policy value that is a string or a list of strings.
func list(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, item := range x {
			out = append(out, fmt.Sprint(item))
		}
		return out
	}
	return nil
}
