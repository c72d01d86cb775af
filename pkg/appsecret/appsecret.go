// Package appsecret delivers a machine user's new access key into its application's own
// Secrets Manager secret, in the user's member account, instead of an email. The user's
// KeyDelivery tag names the secret; the secret opts in with the resource tag
// key-rotator:user naming that user, and a secret that does not is refused before any key is
// made (on AWS the member role is denied access to a secret without that tag key: that
// AccessDenied is read as the refusal it is). A write is idempotent (its ClientRequestToken,
// and so its version ID, is derived from the key ID) and the key counts as delivered once
// DescribeSecret lists that version.
package appsecret

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

const (
	// DeliveryTag is the IAM user tag that asks for delivery to a secret:
	// "secretsmanager:<secret name>".
	DeliveryTag = "KeyDelivery"
	// Scheme starts DeliveryTag's value.
	Scheme = "secretsmanager:"
	// OptInTag is the resource tag the secret must carry, with the user's name as value; the
	// member role may write only secrets that carry this tag key.
	OptInTag = config.AppSecretOptInTag
)

// secretName is what Secrets Manager allows in a secret's name (no ARN: the secret is in the
// user's own account).
var secretName = regexp.MustCompile(`^[` + config.SecretNameChars + `]{1,512}$`)

// Target returns where the user's tags deliver new keys to, or "" when they go by email: the
// name of a secret, or ssm:<name> for an SSM parameter, or github:<owner>/<repo>... for GitHub
// Actions secrets (Clients.Open); the tag's key counts in any case, as IAM compares user tag keys. A tag
// that cannot be read is an error: nothing is delivered by guess.
func Target(tags policy.Tags) (string, error) {
	key, value, ok := tags.Lookup(DeliveryTag)
	if !ok {
		return "", nil
	}
	value = strings.TrimSpace(value)
	if name, found := strings.CutPrefix(value, ParamScheme); found && validParamName(name) {
		return value, nil
	}
	if prefix, found := strings.CutPrefix(value, PairScheme); found && validPairPrefix(prefix) {
		return value, nil
	}
	if strings.HasPrefix(value, GitHubScheme) {
		return gitHubTargetOf(tags, key, value)
	}
	name, found := strings.CutPrefix(value, Scheme)
	if !found || !secretName.MatchString(name) {
		return "", fmt.Errorf("tag %s %q is not %s<secret name>, %s<parameter name>, %s<prefix> or %s<owner>/<repo>: no key is delivered to it", key, value, Scheme, ParamScheme, PairScheme, GitHubScheme)
	}
	return name, nil
}

// API is the part of the member account's Secrets Manager that delivery uses.
type API interface {
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	PutSecretValue(context.Context, *secretsmanager.PutSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Refused says why a secret (or an SSM parameter: What) may not receive a user's keys.
type Refused struct {
	Secret, User, Why string
	// What the destination is: "secret" when empty, "parameter".
	What string
}

func (r *Refused) Error() string {
	return fmt.Sprintf("%s %s refuses the keys of %s: %s", cmp.Or(r.What, "secret"), r.Secret, r.User, r.Why)
}

// deniedRefusal is the refusal of a DescribeSecret the member role is denied: on AWS its
// grant on secrets is conditioned on the tag key OptInTag, so AWS answers AccessDenied for a
// secret without it, for one that does not exist (IAM cannot see the tag of a missing
// secret), and for one whose resource policy denies the role; it cannot tell which.
func deniedRefusal(err error, name, user string) *Refused {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || !strings.HasPrefix(apiErr.ErrorCode(), "AccessDenied") {
		return nil
	}
	return &Refused{Secret: name, User: user, Why: fmt.Sprintf("it lacks the tag %s=%s, or does not exist, or its resource policy denies the rotator's member role: the member role is denied access to it (%s)",
		OptInTag, user, apiErr.ErrorCode())}
}

// writeRefusal is the refusal of a PutSecretValue made once Check found the secret opting
// in: AWS denies it because of the secret's KMS key (its key policy, or a key disabled or
// pending deletion), or its resource policy (or the tag was removed in between); nil for an
// error that may pass on a retry.
func writeRefusal(err error, name, user string) *Refused {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return nil
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	var why string
	switch {
	case code == "EncryptionFailure" || strings.HasPrefix(code, "KMS") || strings.HasPrefix(code, "AccessDenied") && strings.Contains(msg, "KMS"):
		why = "its KMS key refuses the write: the key policy must let the rotator's NotifyUser role in the account use it through Secrets Manager (kms:GenerateDataKey, kms:Decrypt), and the key must be enabled"
	case strings.HasPrefix(code, "AccessDenied"):
		why = fmt.Sprintf("the rotator's NotifyUser role is denied writing it: its resource policy denies that role secretsmanager:PutSecretValue (or its tag %s was removed)", OptInTag)
	case code == "InvalidRequestException":
		why = "it cannot be written now (scheduled for deletion, or managed by another service)"
	case code == "ResourceNotFoundException":
		why = "it does not exist in the user's account"
	default:
		return nil
	}
	return &Refused{Secret: name, User: user, Why: fmt.Sprintf("%s (%s: %s)", why, code, msg)}
}

// Check makes sure the secret exists and opts in to receiving user's keys.
func Check(ctx context.Context, sm API, name, user string) error {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	if refused := deniedRefusal(err, name, user); refused != nil {
		return refused
	}
	var missing *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return &Refused{Secret: name, User: user, Why: "it does not exist in the user's account"}
	case err != nil:
		return fmt.Errorf("describe secret %s for %s: %w", name, user, err)
	case out.DeletedDate != nil:
		return &Refused{Secret: name, User: user, Why: "it is scheduled for deletion"}
	}
	for _, t := range out.Tags {
		if aws.ToString(t.Key) == OptInTag {
			if v := aws.ToString(t.Value); v != user {
				return &Refused{Secret: name, User: user, Why: fmt.Sprintf("its tag %s names %q", OptInTag, v)}
			}
			return nil
		}
	}
	return &Refused{Secret: name, User: user, Why: fmt.Sprintf("it lacks the tag %s=%s", OptInTag, user)}
}

// Token is the ClientRequestToken, and so the version ID, of the write of keyID: a retried
// write of the same key creates no second version, and the version says which key it holds.
func Token(keyID string) string { return "key-rotator-access-key-" + keyID }

// Write puts the new key into the secret, as {"AccessKeyId": ..., "SecretAccessKey": ...},
// once the secret's opt-in is checked again (its tags may have changed since the key was
// made). Writing the same key again changes nothing.
func Write(ctx context.Context, sm API, name, user, keyID string, secretAccessKey secret.Secret) error {
	if err := Check(ctx, sm, name, user); err != nil {
		return err
	}
	return Put(ctx, sm, name, user, keyID, secretAccessKey)
}

// Put writes the new key into the secret as Write does, without checking its opt-in first:
// for a caller that checks it (Check) and records that it begins the write in between.
func Put(ctx context.Context, sm API, name, user, keyID string, secretAccessKey secret.Secret) error {
	body, err := json.Marshal(struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
	}{keyID, secretAccessKey.Reveal()})
	if err != nil {
		return fmt.Errorf("encode key %s for secret %s: %w", keyID, name, err)
	}
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name),
		ClientRequestToken: aws.String(Token(keyID)), SecretString: aws.String(string(body))}); err != nil {
		if refused := writeRefusal(err, name, user); refused != nil {
			return refused
		}
		return fmt.Errorf("write key %s of %s to secret %s: %w", keyID, user, name, err)
	}
	return nil
}

// Written reports whether the secret holds the version that Write made for keyID: the write
// took effect, so the key is delivered. A secret that no longer exists, that is scheduled for
// deletion (its application can no longer read it) or that the member role may no longer
// see (AWS denies DescribeSecret once the opt-in tag key is gone) holds nothing the rotator
// can count on: not written, which is no failure (the bounded wait still applies).
func Written(ctx context.Context, sm API, name, keyID string) (bool, error) {
	state, err := Find(ctx, sm, name, keyID)
	return state == Holds, err
}

// State is what DescribeSecret tells of the version Write made for a key.
type State int

// The states of a key's version in its secret.
const (
	// Absent: the secret does not hold it (or does not exist, or is scheduled for deletion).
	Absent State = iota
	// Holds: the secret holds it (current or not).
	Holds
	// Hidden: the member role is denied DescribeSecret (on AWS, a secret without the opt-in
	// tag key): the rotator cannot tell.
	Hidden
)

// Find tells whether the secret holds the version Write made for keyID (Written), or the
// member role cannot see it.
func Find(ctx context.Context, sm API, name, keyID string) (State, error) {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var missing *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return Absent, nil
	case deniedRefusal(err, name, "") != nil:
		return Hidden, nil
	case err != nil:
		return Absent, fmt.Errorf("describe secret %s for key %s: %w", name, keyID, err)
	case out.DeletedDate != nil:
		return Absent, nil
	}
	if _, ok := out.VersionIdsToStages[Token(keyID)]; ok {
		return Holds, nil
	}
	return Absent, nil
}

// Current says why the secret's current value (its AWSCURRENT version) is not the version
// Write made for keyID, "" when it is: the application reads keyID. It needs only
// DescribeSecret (the member role cannot read values): VersionIdsToStages names the current
// version, and the rotator's version ID is Token(keyID). When another version is current,
// changed is when the secret last changed (its LastChangedDate; zero when not given): that
// version may hold keyID all the same (the application wrote the same key again), which only
// the keys' use can tell (policy.ReadsSuccessor). An error is a failed call, not a verdict.
func Current(ctx context.Context, sm API, name, user, keyID string) (why string, changed time.Time, err error) {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var missing *smtypes.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		return fmt.Sprintf("secret %s does not exist in the user's account", name), time.Time{}, nil
	case deniedRefusal(err, name, user) != nil:
		return deniedRefusal(err, name, user).Error(), time.Time{}, nil
	case err != nil:
		return "", time.Time{}, fmt.Errorf("describe secret %s for key %s: %w", name, keyID, err)
	case out.DeletedDate != nil:
		return fmt.Sprintf("secret %s is scheduled for deletion", name), time.Time{}, nil
	}
	for id, stages := range out.VersionIdsToStages {
		if slices.Contains(stages, "AWSCURRENT") {
			if id == Token(keyID) {
				return "", time.Time{}, nil
			}
			return fmt.Sprintf("secret %s's current value is version %s, not %s, the rotator's version with key %s: the secret was written since, or never held that key", name, id, Token(keyID), keyID),
				aws.ToTime(out.LastChangedDate), nil
		}
	}
	return fmt.Sprintf("secret %s has no current value", name), time.Time{}, nil
}
