package appsecret

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// ParamScheme starts DeliveryTag's value that names an SSM parameter: "ssm:<parameter name>".
//
// The parameter is the owner's: created by them as a SecureString (the rotator never creates
// one, and AWS takes no tags with Overwrite), tagged OptInTag = the user's name. The rotator
// overwrites it with the parameter's own KMS key and tier (an overwrite without them would fall
// back to aws/ssm and the account's default tier), and never reads a value back: SSM has no
// client request token, so the rotator recognises its own version by the description it
// writes with it, Token(keyID) and the version number the write is to get (the current
// version + 1, read just before). SSM keeps a version's description on the next one when
// its writer gives none, so a description only counts when the version it names is the one
// that carries it: a later write, with or without a description, is never taken for the
// rotator's. No label is used: a labeled version is never dropped, and once it is the
// oldest of 100, SSM refuses the application's own writes (ParameterMaxVersionLimitExceeded).
const ParamScheme = "ssm:"

// paramName is what SSM allows in a parameter's name: one name, or a hierarchy that starts
// with "/" (up to 15 levels); no ARN, the parameter is in the user's own account.
var paramName = regexp.MustCompile(`^(?:[a-zA-Z0-9_.-]+|(?:/[a-zA-Z0-9_.-]+){1,15})$`)

// validParamName reports whether name is a parameter's name the user may create: SSM
// reserves names that start with aws or ssm, in any case.
func validParamName(name string) bool {
	lower := strings.ToLower(strings.TrimPrefix(name, "/"))
	return len(name) <= 1011 && paramName.MatchString(name) && !strings.HasPrefix(lower, "aws") && !strings.HasPrefix(lower, "ssm")
}

// ParamAPI is the part of the member account's SSM that delivery uses. DescribeParameters
// supports no resource-level permission (the member roles are allowed it on "*": names and
// metadata of the account's parameters, never a value); ListTagsForResource and PutParameter
// only on parameters that carry the OptInTag key (infra/stacks/member.go).
type ParamAPI interface {
	DescribeParameters(context.Context, *ssm.DescribeParametersInput, ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
	ListTagsForResource(context.Context, *ssm.ListTagsForResourceInput, ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
	PutParameter(context.Context, *ssm.PutParameterInput, ...func(*ssm.Options)) (*ssm.PutParameterOutput, error)
}

// ParamDescription is the description the rotator writes with the version of a parameter
// that holds keyID, the version number it is to get.
func ParamDescription(keyID string, version int64) string {
	return Token(keyID) + " version " + strconv.FormatInt(version, 10)
}

// parameter is the SSM SecureString parameter destination.
type parameter struct {
	ps   ParamAPI
	name string
	// value is what the parameter takes of a key (nil: the key as JSON, keyJSON).
	value func(keyID string, secretAccessKey secret.Secret) string
	// plain: a String parameter is accepted and written as one (the key ID of a pair).
	plain bool
}

// keyJSON is the key as {"AccessKeyId": ..., "SecretAccessKey": ...}, as a secret holds it.
func keyJSON(keyID string, secretAccessKey secret.Secret) string {
	body, _ := json.Marshal(struct {
		AccessKeyID     string `json:"AccessKeyId"`
		SecretAccessKey string `json:"SecretAccessKey"`
	}{keyID, secretAccessKey.Reveal()}) // strings only: cannot fail
	return string(body)
}

func (p *parameter) Tag() string          { return ParamScheme + p.name }
func (p *parameter) AwaitsFirstUse() bool { return false }
func (p *parameter) String() string       { return "SSM parameter " + p.name }

func (p *parameter) refused(user, why string) *Refused {
	return &Refused{What: "parameter", Secret: p.name, User: user, Why: why}
}

// describe is the parameter's metadata, nil when it does not exist. DescribeParameters may
// answer a filter with empty pages before the match: every page is read.
func (p *parameter) describe(ctx context.Context) (*ssmtypes.ParameterMetadata, error) {
	if p.ps == nil {
		return nil, fmt.Errorf("describe parameter %s: no SSM client for the member account", p.name)
	}
	pages := ssm.NewDescribeParametersPaginator(p.ps, &ssm.DescribeParametersInput{ParameterFilters: []ssmtypes.ParameterStringFilter{
		{Key: aws.String("Name"), Option: aws.String("Equals"), Values: []string{p.name}}}})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe parameter %s: %w", p.name, err)
		}
		for i := range page.Parameters {
			if aws.ToString(page.Parameters[i].Name) == p.name {
				return &page.Parameters[i], nil
			}
		}
	}
	return nil, nil
}

// Check makes sure the parameter exists, is a SecureString and opts in to user's keys. On AWS
// the member role may list the tags only of parameters with the tag key: AccessDenied is
// the refusal it is.
func (p *parameter) Check(ctx context.Context, user string) error {
	if p.ps == nil {
		return fmt.Errorf("check parameter %s for %s: no SSM client for the member account", p.name, user)
	}
	out, err := p.ps.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingParameter, ResourceId: aws.String(p.name)})
	var apiErr smithy.APIError
	var missing *ssmtypes.InvalidResourceId
	switch {
	case errors.As(err, &missing):
		return p.refused(user, "it does not exist in the user's account")
	case errors.As(err, &apiErr) && strings.HasPrefix(apiErr.ErrorCode(), "AccessDenied"):
		return p.refused(user, fmt.Sprintf("it lacks the tag %s=%s, or does not exist: the member role is denied its tags (%s)", OptInTag, user, apiErr.ErrorCode()))
	case err != nil:
		return fmt.Errorf("list the tags of parameter %s for %s: %w", p.name, user, err)
	}
	tagged := false
	for _, t := range out.TagList {
		if aws.ToString(t.Key) == OptInTag {
			if v := aws.ToString(t.Value); v != user {
				return p.refused(user, fmt.Sprintf("its tag %s names %q", OptInTag, v))
			}
			tagged = true
		}
	}
	if !tagged {
		return p.refused(user, fmt.Sprintf("it lacks the tag %s=%s", OptInTag, user))
	}
	meta, err := p.describe(ctx)
	switch {
	case err != nil:
		return err
	case meta == nil:
		return p.refused(user, "it does not exist in the user's account")
	case meta.Type == ssmtypes.ParameterTypeString && p.plain:
	case meta.Type != ssmtypes.ParameterTypeSecureString:
		return p.refused(user, fmt.Sprintf("it is a %s parameter, not a SecureString: the rotator writes keys only encrypted", meta.Type))
	}
	return nil
}

// Put overwrites the parameter with the key, as a SecureString under the parameter's own KMS
// key and tier, described as ParamDescription(keyID, current version + 1). A write that
// landed on another version (another writer in between) holds the key under a description
// that names another version: it is written once more at once, and if that too is raced,
// it is an error to retry, not a delivery.
func (p *parameter) Put(ctx context.Context, user, keyID string, secretAccessKey secret.Secret) error {
	encode := p.value
	if encode == nil {
		encode = keyJSON
	}
	value := encode(keyID, secretAccessKey)
	var raced error
	for range 2 {
		meta, err := p.describe(ctx)
		switch {
		case err != nil:
			return err
		case meta == nil:
			return p.refused(user, "it does not exist in the user's account")
		}
		next := meta.Version + 1
		in := &ssm.PutParameterInput{Name: aws.String(p.name), Value: aws.String(value),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(true), KeyId: meta.KeyId, Tier: meta.Tier,
			Description: aws.String(ParamDescription(keyID, next))}
		if p.plain && meta.Type == ssmtypes.ParameterTypeString {
			in.Type, in.KeyId = ssmtypes.ParameterTypeString, nil // a key ID is no secret
		}
		out, err := p.ps.PutParameter(ctx, in)
		if err != nil {
			if refused := p.writeRefusal(err, user); refused != nil {
				return refused
			}
			return fmt.Errorf("write key %s of %s to parameter %s: %w", keyID, user, p.name, err)
		}
		if out.Version == next {
			return nil
		}
		raced = fmt.Errorf("write key %s of %s to parameter %s: written as version %d, not %d (another write in between): written again on a retry",
			keyID, user, p.name, out.Version, next)
	}
	return raced
}

// writeRefusal is the refusal of a PutParameter made once Check found the parameter opting
// in; nil for an error that may pass on a retry.
func (p *parameter) writeRefusal(err error, user string) *Refused {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return nil
	}
	code, msg := apiErr.ErrorCode(), apiErr.ErrorMessage()
	var why string
	switch {
	case code == "InvalidKeyId" || strings.HasPrefix(code, "KMS") || strings.HasPrefix(code, "AccessDenied") && strings.Contains(strings.ToLower(msg), "kms"):
		why = "its KMS key refuses the write: the key policy must let the rotator's NotifyUser role in the account use it through SSM (kms:Encrypt, kms:GenerateDataKey), and the key must be enabled"
	case strings.HasPrefix(code, "AccessDenied"):
		why = fmt.Sprintf("the rotator's NotifyUser role is denied writing it (its tag %s was removed?)", OptInTag)
	case code == "ParameterMaxVersionLimitExceeded":
		why = "it keeps 100 versions and its oldest is labeled: SSM makes no new version until that label moves"
	case code == "ParameterPatternMismatchException":
		why = "its allowed pattern refuses the key's JSON"
	case code == "ParameterNotFound", code == "InvalidResourceId":
		why = "it does not exist in the user's account"
	case code == "HierarchyLevelLimitExceededException", code == "HierarchyTypeMismatchException", code == "UnsupportedParameterType":
		why = "it cannot be written as a SecureString"
	default:
		return nil
	}
	return p.refused(user, fmt.Sprintf("%s (%s: %s)", why, code, msg))
}

// Find: the parameter holds the rotator's write of keyID when its current version is that
// write (its description names keyID and that version). An older version is not looked up
// (GetParameterHistory returns values): a key written over is not confirmed delivered.
// DescribeParameters is allowed on every parameter, so Find never answers Hidden.
func (p *parameter) Find(ctx context.Context, keyID string, _ time.Time) (State, error) {
	meta, err := p.describe(ctx)
	if err != nil || meta == nil {
		return Absent, err
	}
	if aws.ToString(meta.Description) == ParamDescription(keyID, meta.Version) {
		return Holds, nil
	}
	return Absent, nil
}

// Current says why the parameter's current version is not the rotator's write of keyID, ""
// when it is; changed is its LastModifiedDate when another version is current.
func (p *parameter) Current(ctx context.Context, user, keyID string) (string, time.Time, error) {
	meta, err := p.describe(ctx)
	switch {
	case err != nil:
		return "", time.Time{}, err
	case meta == nil:
		return fmt.Sprintf("SSM parameter %s does not exist in the user's account", p.name), time.Time{}, nil
	case aws.ToString(meta.Description) == ParamDescription(keyID, meta.Version):
		return "", time.Time{}, nil
	}
	return fmt.Sprintf("SSM parameter %s's current value is version %d, not the rotator's write of key %s (described %q): the parameter was written since, or never held that key",
		p.name, meta.Version, keyID, ParamDescription(keyID, meta.Version)), aws.ToTime(meta.LastModifiedDate), nil
}
