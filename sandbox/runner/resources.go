package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sesv2types "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/permissions"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Resources are the rotator's own resources in the management account of the stand-in, as
// the CDK app would create them: the report bucket, the failure topic, the hand-off and topic
// keys, the SES configuration set, and the functions' roles under their synthesized policies.
type Resources struct {
	Bucket        string
	TopicARN      string
	HandoffKeyARN string
	TopicKeyARN   string
	// TagKeySecretARN is the secret whose value signs the rotator's tags on IAM users.
	TagKeySecretARN  string
	ConfigurationSet string
	// ManagementRoleARN is the role ListAccounts assumes, TagReaderRoleARN the one
	// ScanAndRotate reads its account's exclusion tag through (the seeder creates both).
	ManagementRoleARN, TagReaderRoleARN string
	// Bindings fill the placeholders of the synthesized policies on this stand-in.
	Bindings permissions.Bindings
}

// ensureResources creates the rotator's resources, or finds them from an earlier run on
// the same stand-in, and puts the state machine's and the functions' roles (policies.json, filled in from the
// stand-in's settings with the run's member role and sender) in the account.
func ensureResources(ctx context.Context, cfg aws.Config, accountID string, s Settings) (Resources, error) {
	standIn, err := sandbox.GetSettings(ctx, aws.ToString(cfg.BaseEndpoint))
	if err != nil {
		return Resources{}, fmt.Errorf("the stand-in's settings (seed it first): %w", err)
	}
	file, err := permissions.Load()
	if err != nil {
		return Resources{}, err
	}
	management, err := file.Role(permissions.ManagementRole)
	if err != nil {
		return Resources{}, err
	}
	tagReader, err := file.Role(permissions.TagReaderRole)
	if err != nil {
		return Resources{}, err
	}
	res := Resources{Bucket: "keyrotator-reports-" + accountID, ConfigurationSet: "keyrotator-configset",
		ManagementRoleARN: awsclient.RoleARN(sandbox.Partition, standIn.ManagementAccountID, management.RoleName),
		TagReaderRoleARN:  awsclient.RoleARN(sandbox.Partition, standIn.ManagementAccountID, tagReader.RoleName)}
	s3c := s3.NewFromConfig(cfg, awsclient.PathStyle)
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &res.Bucket}); err != nil {
		if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &res.Bucket}); err != nil {
			return res, fmt.Errorf("create report bucket %s: %w", res.Bucket, err)
		}
	}
	for _, k := range []struct {
		alias string
		arn   *string
	}{{"alias/keyrotator-handoff", &res.HandoffKeyARN}, {"alias/keyrotator-topic", &res.TopicKeyARN}} {
		if *k.arn, err = ensureKey(ctx, kms.NewFromConfig(cfg), k.alias); err != nil {
			return res, err
		}
	}
	if res.TagKeySecretARN, err = sandbox.EnsureTagKey(ctx, cfg); err != nil {
		return res, err
	}
	topic, err := sns.NewFromConfig(cfg).CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("keyrotator-failures"),
		Attributes: map[string]string{"KmsMasterKeyId": res.TopicKeyARN}})
	if err != nil {
		return res, fmt.Errorf("create failure topic: %w", err)
	}
	res.TopicARN = aws.ToString(topic.TopicArn)
	// moto answers ConfigurationSetAlreadyExistsException (SES v1's name), AWS AlreadyExistsException.
	var apiErr smithy.APIError
	// As the stack's, it suppresses bounces and complaints, overriding the account's settings:
	// ListAccounts checks it before a run may confirm deliveries from the suppression list.
	if _, err := sesv2.NewFromConfig(cfg).CreateConfigurationSet(ctx, &sesv2.CreateConfigurationSetInput{
		ConfigurationSetName: aws.String(res.ConfigurationSet),
		SuppressionOptions: &sesv2types.SuppressionOptions{SuppressedReasons: []sesv2types.SuppressionListReason{
			sesv2types.SuppressionListReasonBounce, sesv2types.SuppressionListReasonComplaint}}}); err != nil &&
		!(errors.As(err, &apiErr) && strings.HasSuffix(apiErr.ErrorCode(), "AlreadyExistsException")) {
		return res, fmt.Errorf("create SES configuration set %s: %w", res.ConfigurationSet, err)
	}

	// The run's member role and sender, which may differ from the seeded ones.
	run := *standIn
	run.Rotator.MemberRoleName, run.Rotator.SenderEmail = s.MemberRoleName, s.SenderEmail
	res.Bindings = run.Bindings()
	maps.Copy(res.Bindings, permissions.Bindings{
		permissions.ReportBucket:     res.Bucket,
		permissions.HandoffKeyARN:    res.HandoffKeyARN,
		permissions.TopicKeyARN:      res.TopicKeyARN,
		permissions.FailureTopicARN:  res.TopicARN,
		permissions.ConfigurationSet: res.ConfigurationSet,
	})
	for _, name := range stackRoles() {
		if err := sandbox.PutRole(ctx, iam.NewFromConfig(cfg), name, res.Bindings.With(permissions.AccountID, accountID)); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ensureKey returns the ARN of the KMS key with alias, created with it if there is none.
func ensureKey(ctx context.Context, client *kms.Client, alias string) (string, error) {
	if found, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(alias)}); err == nil {
		return aws.ToString(found.KeyMetadata.Arn), nil
	}
	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(alias)})
	if err != nil {
		return "", fmt.Errorf("create KMS key %s: %w", alias, err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		return "", fmt.Errorf("create KMS alias %s: %w", alias, err)
	}
	return aws.ToString(key.KeyMetadata.Arn), nil
}

// EnsureResources creates (once) the rotator's resources on the stand-in at endpoint, as
// Run does with settings s, and returns them.
func EnsureResources(ctx context.Context, endpoint string, s Settings) (Resources, error) {
	_, _, res, err := standIn(ctx, endpoint, s)
	return res, err
}

// stackRoles names the roles of policies.json that the runner runs under in the rotator's
// account: the state machine's, then each function's (named as the function).
func stackRoles() []string {
	roles := []string{permissions.StateMachineRole}
	for _, f := range statemachine.Functions {
		roles = append(roles, f.Name)
	}
	return roles
}
