package awsmodel

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// Subject names what a write acts on (its user, key or tags, or its secret), for a
// violation's detail or a test's filter.
func (c Call) Subject() string {
	user, keyID := c.Target()
	switch in := c.Input.(type) {
	case *iam.TagUserInput:
		var kv []string
		for _, t := range in.Tags {
			kv = append(kv, aws.ToString(t.Key)+"="+aws.ToString(t.Value))
		}
		return user + " " + strings.Join(kv, ",")
	case *iam.UntagUserInput:
		return user + " " + strings.Join(in.TagKeys, ",")
	case *iam.CreateAccessKeyInput, *iam.UpdateAccessKeyInput, *iam.DeleteAccessKeyInput:
		return strings.TrimSpace(user + " " + keyID)
	}
	return c.SecretName()
}

// Target is the user (and key) an IAM write acts on.
func (c Call) Target() (user, keyID string) {
	switch in := c.Input.(type) {
	case *iam.DeleteAccessKeyInput:
		return aws.ToString(in.UserName), aws.ToString(in.AccessKeyId)
	case *iam.UpdateAccessKeyInput:
		return aws.ToString(in.UserName), aws.ToString(in.AccessKeyId)
	case *iam.CreateAccessKeyInput:
		return aws.ToString(in.UserName), ""
	case *iam.TagUserInput:
		return aws.ToString(in.UserName), ""
	case *iam.UntagUserInput:
		return aws.ToString(in.UserName), ""
	}
	return "", ""
}

// SecretName is the name or ARN a Secrets Manager call acts on (or the SSM parameter a
// PutParameter writes).
func (c Call) SecretName() string {
	switch in := c.Input.(type) {
	case *secretsmanager.CreateSecretInput:
		return aws.ToString(in.Name)
	case *secretsmanager.DeleteSecretInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.TagResourceInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.GetSecretValueInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.RestoreSecretInput:
		return aws.ToString(in.SecretId)
	case *secretsmanager.PutSecretValueInput:
		return aws.ToString(in.SecretId)
	case *ssm.PutParameterInput:
		return aws.ToString(in.Name)
	}
	return ""
}
