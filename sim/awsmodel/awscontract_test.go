//go:build awscontract

package awsmodel

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
)

// TestConformanceWithAWS runs the conformance sequence in a real AWS account and on the model
// (make aws-contract; never in CI): every step where they disagree is a bug of the model, and,
// where TestConformanceWithStandIn has the stand-in agree with the model, of the stand-in too.
// Write each one down (docs/local.md, "Holding the stand-in to AWS") before fixing it.
// The credential report steps read the account's own report: on an account that generated
// one within 4 hours, their first answers differ for that reason alone.
func TestConformanceWithAWS(t *testing.T) {
	account, n, err := contractTarget(os.Getenv, strconv.FormatInt(time.Now().Unix(), 36))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("the credentials: %v", err)
	}
	if aws.ToString(who.Account) != account {
		t.Fatalf("the credentials act in account %s, not %s: nothing was created", aws.ToString(who.Account), account)
	}
	iamClient, secrets, ses := iam.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg), sesv2.NewFromConfig(cfg)
	params := ssm.NewFromConfig(cfg)
	t.Cleanup(func() {
		removeContractResources(t, iamClient, secrets, n)
		removeContractParameters(t, params, n)
	})
	real := &backend{
		iam: iamClient, secrets: secrets, ses: ses, params: params,
		createUser: func(name string) error {
			_, err := iamClient.CreateUser(ctx, &iam.CreateUserInput{UserName: &name})
			return err
		},
		verifySES: func(identity string) error {
			out, err := ses.GetEmailIdentity(ctx, &sesv2.GetEmailIdentityInput{EmailIdentity: &identity})
			if err == nil && !out.VerifiedForSendingStatus {
				err = errors.New(identity + " is not verified in SES: verify it before running make aws-contract")
			}
			return err
		},
		// IAM and Secrets Manager are eventually consistent: a new key or secret is listed
		// seconds later.
		settle: func() { time.Sleep(15 * time.Second) },
		now:    time.Now,
		n:      n,
	}
	compareWithModel(t, "AWS", real, modelBackend(n))
	t.Run("a secret whose customer managed key denies the write", func(t *testing.T) {
		fromAWS := kmsDeniedWriteOnAWS(ctx, t, kms.NewFromConfig(cfg), secrets, aws.ToString(who.UserId), n)
		if fromModel := kmsDeniedWriteOnModel(n); fromAWS != fromModel {
			t.Errorf("PutSecretValue that the secret's KMS key denies: AWS %s, model %s", fromAWS, fromModel)
		}
	})
}

// kmsDeniedWriteOnAWS writes a value to a secret encrypted with a customer managed key whose
// policy denies the caller the key's use (as a member account's key may deny the rotator's
// NotifyUser role), and returns the outcome. The key administers itself through the account
// (for the clean-up), and is scheduled for deletion at the end, 7 days out.
func kmsDeniedWriteOnAWS(ctx context.Context, t *testing.T, keys *kms.Client, secrets *secretsmanager.Client, callerID string, n names) string {
	policy, err := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Sid": "AdministrationByTheAccount", "Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::" + strings.Split(callerID, ":")[0] + ":root"},
			"Action": "kms:*", "Resource": "*"},
		map[string]any{"Sid": "NoUseByTheContract", "Effect": "Deny", "Principal": "*", "Resource": "*",
			"Action": []string{"kms:GenerateDataKey", "kms:Encrypt", "kms:Decrypt"}, "Condition": map[string]any{"StringEquals": map[string]any{"aws:userid": callerID}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(n.secrets + " contract: a key that denies its use"), Policy: aws.String(string(policy))})
	if err != nil {
		t.Fatalf("create the key: %v", err)
	}
	t.Cleanup(func() {
		if _, err := keys.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Errorf("clean up: schedule the deletion of key %s: %v", aws.ToString(key.KeyMetadata.KeyId), err)
		}
	})
	// Created without a value, which would need the key.
	name := n.secrets + "/cmk"
	if _, err := secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), KmsKeyId: key.KeyMetadata.Arn}); err != nil {
		t.Fatalf("create the secret: %v", err)
	}
	_, err = secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(`{"v":1}`)})
	return outcome(err, "written")
}

// removeContractParameters deletes the SSM parameters the conformance sequence made.
func removeContractParameters(t *testing.T, params *ssm.Client, n names) {
	name := "/" + n.secrets + "/app-key"
	for _, p := range []string{name, name + "-missing"} {
		var missing *ssmtypes.ParameterNotFound
		if _, err := params.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(p)}); err != nil && !errors.As(err, &missing) {
			t.Errorf("clean up: delete parameter %s: %v", p, err)
		}
	}
}

// removeContractResources deletes what the sequence created: the user's access keys, the
// user, and every secret under the run's prefix, without a recovery window.
func removeContractResources(t *testing.T, iamClient *iam.Client, secrets *secretsmanager.Client, n names) {
	ctx := context.Background()
	keys, err := iamClient.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: &n.user})
	if err == nil {
		for _, k := range keys.AccessKeyMetadata {
			if _, err := iamClient.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &n.user, AccessKeyId: k.AccessKeyId}); err != nil {
				t.Errorf("clean up: delete key %s of %s: %v", aws.ToString(k.AccessKeyId), n.user, err)
			}
		}
		if _, err := iamClient.DeleteUser(ctx, &iam.DeleteUserInput{UserName: &n.user}); err != nil {
			t.Errorf("clean up: delete user %s: %v", n.user, err)
		}
	}
	pages := secretsmanager.NewListSecretsPaginator(secrets, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true),
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{n.secrets + "/"}}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Errorf("clean up: list secrets under %s/: %v", n.secrets, err)
			return
		}
		for _, s := range page.SecretList {
			if _, err := secrets.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: s.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
				t.Errorf("clean up: delete secret %s: %v", aws.ToString(s.Name), err)
			}
		}
	}
}
