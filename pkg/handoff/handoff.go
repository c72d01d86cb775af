// Package handoff moves a new access key from ScanAndRotate to NotifyUser through Secrets
// Manager (KMS-encrypted; only NotifyUser can decrypt), so that the secret part never travels
// in a Step Functions payload. A secret that still exists is a key pending (re)delivery.
package handoff

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// SecretsAPI is the part of Secrets Manager the scanning side uses.
type SecretsAPI interface {
	Deleter
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	secretsmanager.ListSecretsAPIClient
}

// Value is the JSON a hand-off secret holds: the new key, whole. Only NotifyUser reads
// it (the KMS key allows nobody else to decrypt).
type Value struct {
	AccessKeyID     string        `json:"accessKeyId"`
	SecretAccessKey secret.Secret `json:"-"`
}

// MarshalJSON writes the secret part too: this is the one place it is serialised, for
// Secrets Manager.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}{v.AccessKeyID, v.SecretAccessKey.Reveal()})
}

// UnmarshalJSON reads a hand-off secret's value.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("hand-off secret value is not the expected JSON object")
	}
	if raw.AccessKeyID == "" || raw.SecretAccessKey == "" {
		return fmt.Errorf("hand-off secret value lacks accessKeyId or secretAccessKey")
	}
	*v = Value{AccessKeyID: raw.AccessKeyID, SecretAccessKey: secret.New(raw.SecretAccessKey)}
	return nil
}

// The hand-off secret's tags: what a later run needs to redeliver the key.
const (
	tagUser         = "key-rotator:user"
	tagAccessKeyID  = "key-rotator:access-key-id"
	tagReplaces     = "key-rotator:replaces"
	tagDeactivateOn = "key-rotator:deactivate-on"
	tagEmail        = "key-rotator:email"
)

// Pending is a created key whose hand-off secret still waits for delivery.
type Pending struct {
	SecretARN, SecretName                                string
	UserName, AccessKeyID, Replaces, DeactivateOn, Email string
}

var secretNameUnsafe = regexp.MustCompile(`[^\w/+=.@-]`)

// Name names the secret of one new key: <prefix><account>/<user>/<key ID>.
func Name(prefix, accountID, userName, accessKeyID string) string {
	return prefix + accountID + "/" + secretNameUnsafe.ReplaceAllString(userName, "_") + "/" + accessKeyID
}

// Store saves a new key for NotifyUser, encrypted with the hand-off KMS key.
func Store(ctx context.Context, sm SecretsAPI, name, kmsKeyID string, value Value, p Pending) (string, error) {
	body, err := json.Marshal(value)
	if err != nil {
		return "", fmt.Errorf("encode hand-off secret for key %s: %w", value.AccessKeyID, err)
	}
	in := &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(string(body)),
		Description:  aws.String("New access key waiting for delivery to its owner by the IAM access key rotator"),
		Tags: []smtypes.Tag{
			{Key: aws.String(tagUser), Value: aws.String(p.UserName)},
			{Key: aws.String(tagAccessKeyID), Value: aws.String(p.AccessKeyID)},
			{Key: aws.String(tagReplaces), Value: aws.String(p.Replaces)},
			{Key: aws.String(tagDeactivateOn), Value: aws.String(p.DeactivateOn)},
			{Key: aws.String(tagEmail), Value: aws.String(p.Email)},
		},
	}
	if kmsKeyID != "" {
		in.KmsKeyId = aws.String(kmsKeyID)
	}
	out, err := sm.CreateSecret(ctx, in)
	if err != nil {
		return "", fmt.Errorf("store hand-off secret %s: %w", name, err)
	}
	return aws.ToString(out.ARN), nil
}

// List lists the hand-off secrets of an account that still wait for delivery, by
// access key ID.
func List(ctx context.Context, sm SecretsAPI, prefix, accountID string) (map[string]Pending, error) {
	pending := map[string]Pending{}
	namePrefix := prefix + accountID + "/"
	pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{namePrefix}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list hand-off secrets of %s: %w", accountID, err)
		}
		for _, s := range page.SecretList {
			if !strings.HasPrefix(aws.ToString(s.Name), namePrefix) || s.DeletedDate != nil {
				continue
			}
			tags := map[string]string{}
			for _, t := range s.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			p := Pending{SecretARN: aws.ToString(s.ARN), SecretName: aws.ToString(s.Name), UserName: tags[tagUser],
				AccessKeyID: tags[tagAccessKeyID], Replaces: tags[tagReplaces], DeactivateOn: tags[tagDeactivateOn], Email: tags[tagEmail]}
			if p.AccessKeyID == "" || p.UserName == "" {
				return nil, fmt.Errorf("hand-off secret %s lacks its %s or %s tag", p.SecretName, tagAccessKeyID, tagUser)
			}
			pending[p.AccessKeyID] = p
		}
	}
	return pending, nil
}

// Delete removes a hand-off secret at once (no recovery window: it holds a key).
func Delete(ctx context.Context, sm Deleter, arn string) error {
	if _, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		return fmt.Errorf("delete hand-off secret %s: %w", arn, err)
	}
	return nil
}

// Deleter is the one call both sides make: delete a delivered or orphaned secret.
type Deleter interface {
	DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// Reader is the part of Secrets Manager NotifyUser uses.
type Reader interface {
	Deleter
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Read fetches a new key from its hand-off secret.
func Read(ctx context.Context, sm Reader, arn string) (Value, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return Value{}, fmt.Errorf("read hand-off secret %s: %w", arn, err)
	}
	var v Value
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
		return Value{}, fmt.Errorf("read hand-off secret %s: %w", arn, err)
	}
	return v, nil
}
