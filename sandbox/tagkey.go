package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// EnsureTagKey creates, once, the rotator's tag key in the stand-in's rotator account (cfg),
// as the stack does (config.TagKeySecretName, 64 random letters and digits), and returns its
// ARN: ScanAndRotate and NotifyUser sign the rotator's tags on IAM users with it.
func EnsureTagKey(ctx context.Context, cfg aws.Config) (string, error) {
	sm := secretsmanager.NewFromConfig(cfg)
	found, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(config.TagKeySecretName)})
	if err == nil {
		return aws.ToString(found.ARN), nil
	}
	var missing *smtypes.ResourceNotFoundException
	if !errors.As(err, &missing) {
		return "", fmt.Errorf("describe the tag key %s: %w", config.TagKeySecretName, err)
	}
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(config.TagKeySecretName),
		SecretString: aws.String(rand.Text() + rand.Text())})
	if err != nil {
		return "", fmt.Errorf("create the tag key %s: %w", config.TagKeySecretName, err)
	}
	return aws.ToString(created.ARN), nil
}
