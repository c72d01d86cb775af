package preflight

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
)

type fakeKMS struct {
	policy string
	err    error
}

func (f fakeKMS) DescribeKey(context.Context, *kms.DescribeKeyInput, ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: aws.String("1234abcd-12ab-34cd-56ef-1234567890ab")}}, nil
}

func (f fakeKMS) GetKeyPolicy(context.Context, *kms.GetKeyPolicyInput, ...func(*kms.Options)) (*kms.GetKeyPolicyOutput, error) {
	return &kms.GetKeyPolicyOutput{Policy: aws.String(f.policy)}, nil
}

const (
	testScanRole   = "arn:aws:iam::222222222222:role/iam-access-key-rotator-role"
	testNotifyRole = "arn:aws:iam::222222222222:role/iam-access-key-rotator-notify-role"
)

// stackKeyPolicy is the hand-off key's policy as the stack synthesizes it (infra/stacks
// newKey and grantKeyUse), with extra statements appended.
func stackKeyPolicy(extra ...map[string]any) string {
	via := map[string]any{"StringLike": map[string]any{"kms:ViaService": "secretsmanager.*.amazonaws.com"}}
	statements := append([]map[string]any{
		{"Sid": "KeyAdministrationByTheAccount", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::222222222222:root"},
			"Action": []any{"kms:CancelKeyDeletion", "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"}, "Resource": "*"},
		{"Sid": "EncryptHandoffByScanAndRotate", "Effect": "Allow", "Principal": map[string]any{"AWS": testScanRole}, "Action": "kms:GenerateDataKey", "Resource": "*", "Condition": via},
		{"Sid": "ValidateHandoffKeyAccessByScanAndRotate", "Effect": "Allow", "Principal": map[string]any{"AWS": testScanRole}, "Action": "kms:Decrypt", "Resource": "*",
			"Condition": map[string]any{"StringEquals": map[string]any{"kms:EncryptionContext:SecretVersionId": "RequestToValidateKeyAccess"}, "StringLike": via["StringLike"]}},
		{"Sid": "DecryptHandoffByNotifyUser", "Effect": "Allow", "Principal": map[string]any{"AWS": testNotifyRole}, "Action": "kms:Decrypt", "Resource": "*", "Condition": via},
	}, extra...)
	out, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": statements})
	if err != nil {
		panic(err)
	}
	return string(out)
}

// TestHandoffKeyPolicyLetsOnlyTheRotatorsFunctionsUseIt: the stack's policy passes; a use of
// the key granted to the account (kms:*, which delegates it to IAM), to anyone, to another
// role, or to ScanAndRotate's role beyond the access check, fails naming the statement; a
// policy without the rotator's own parts fails too.
func TestHandoffKeyPolicyLetsOnlyTheRotatorsFunctionsUseIt(t *testing.T) {
	for _, tt := range []struct {
		name   string
		policy string
		want   Verdict
		says   string
	}{
		{"as synthesized", stackKeyPolicy(), Pass, "only iam-access-key-rotator-role encrypts and iam-access-key-rotator-notify-role decrypts"},
		{"the account may use it", stackKeyPolicy(map[string]any{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
			"Principal": map[string]any{"AWS": "arn:aws:iam::222222222222:root"}, "Action": "kms:*", "Resource": "*"}), Fail,
			`statement "Enable IAM User Permissions" lets arn:aws:iam::222222222222:root use the key (kms:Decrypt, kms:Encrypt, kms:GenerateDataKey`},
		{"anyone may decrypt", stackKeyPolicy(map[string]any{"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}), Fail,
			`statement "Open" lets * use the key (kms:Decrypt)`},
		{"another role decrypts, by wildcard", stackKeyPolicy(map[string]any{"Sid": "Debug", "Effect": "Allow",
			"Principal": map[string]any{"AWS": []any{"arn:aws:iam::333333333333:role/debug"}}, "Action": []any{"KMS:Decrypt*"}, "Resource": "*"}), Fail,
			`statement "Debug" lets arn:aws:iam::333333333333:role/debug use the key (kms:Decrypt)`},
		{"ScanAndRotate decrypts any secret", stackKeyPolicy(map[string]any{"Sid": "ScanReads", "Effect": "Allow",
			"Principal": map[string]any{"AWS": testScanRole}, "Action": "kms:Decrypt", "Resource": "*"}), Fail, `statement "ScanReads" lets ` + testScanRole},
		{"a denial is no grant", stackKeyPolicy(map[string]any{"Sid": "DenyAll", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}), Pass, "only"},
		{"NotifyUser's role recreated since", strings.ReplaceAll(stackKeyPolicy(), `"`+testNotifyRole+`"`, `"AROAEXAMPLEUNIQUEID"`), Fail,
			"no statement lets " + testNotifyRole + " decrypt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := HandoffKey(fakeKMS{policy: tt.policy}, "222222222222", "aws")(context.Background())
			if r.Verdict != tt.want || !strings.Contains(r.Detail, tt.says) || r.Verdict == Fail && r.Fix == "" {
				t.Errorf("%s: %s (fix %q), want %s saying %q", r.Verdict, r.Detail, r.Fix, tt.want, tt.says)
			}
		})
	}
	r := HandoffKey(fakeKMS{err: &kmstypes.NotFoundException{Message: aws.String("Alias is not found")}}, "222222222222", "aws")(context.Background())
	if r.Verdict != CannotTell || !strings.Contains(r.Fix, "deploy") {
		t.Errorf("before the deploy: %s: %s (fix %q), want cannot-tell with the deploy as fix", r.Verdict, r.Detail, r.Fix)
	}
}
