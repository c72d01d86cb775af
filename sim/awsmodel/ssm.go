package awsmodel

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// serviceSSM is SSM's service ID, as the SDK names it in errors.
const serviceSSM = "SSM"

// SSM Parameter Store's documented limits and defaults.
const (
	// maxParamVersions: "Parameter Store retains the 100 most recently created versions of a
	// parameter", deleting the oldest when a new one is made.
	maxParamVersions = 100
	// defaultSSMKey is the AWS managed key a SecureString uses when no KeyId is given.
	defaultSSMKey = "alias/aws/ssm"
)

// paramVersion is one version of a parameter.
type paramVersion struct {
	version     int64
	value       string
	description string
	keyID       string
	modified    time.Time
}

// parameter is an SSM parameter of an account.
type parameter struct {
	name     string
	typ      ssmtypes.ParameterType
	tier     ssmtypes.ParameterTier
	versions []paramVersion // oldest first; the last is current
	tags     map[string]string
	// memberWriteDenied is what denies the rotator's NotifyUser role PutParameter
	// (DenyByKMSKey; "": nothing).
	memberWriteDenied string
}

func (p *parameter) current() paramVersion { return p.versions[len(p.versions)-1] }

// Parameter is a parameter as SSM holds it: its current version.
type Parameter struct {
	Name        string
	Type        string
	Value       string
	Version     int64
	Description string
	KeyID       string
	Tags        map[string]string
	// Versions is how many versions SSM keeps.
	Versions int
	// MemberWriteDenied says what denies NotifyUser's role its writes (DenyMemberParamWrites).
	MemberWriteDenied string
}

// SSM is an SSM client of one account, as the rotator's member roles (member) or anyone else
// reach it.
type SSM struct {
	w       *World
	account string
	member  bool
}

// ParamsIn returns account's SSM with no IAM between (an application's, or a test's).
func (w *World) ParamsIn(account string) *SSM { return &SSM{w: w, account: account} }

// MemberParamsIn returns account's SSM as the rotator's roles in a member account reach it
// on AWS (infra/stacks/member.go): DescribeParameters is allowed on "*" (it has no
// resource-level permission); ListTagsForResource and PutParameter only on parameters with
// the tag key config.AppSecretOptInTag (ssm:resourceTag, "Null": false), so on a parameter
// without it, or one that does not exist (IAM sees no tag), they answer AccessDeniedException;
// so does a PutParameter whose KMS key denies the role (DenyMemberParamWrites).
func (w *World) MemberParamsIn(account string) *SSM {
	return &SSM{w: w, account: account, member: true}
}

func (w *World) params(account string) map[string]*parameter {
	a := w.account(account)
	if a.params == nil {
		a.params = map[string]*parameter{}
	}
	return a.params
}

func (c *SSM) call(op string, in any) Call {
	return Call{Service: serviceSSM, Operation: op, Account: c.account, Input: in}
}

func (c *SSM) denied(op, name, why string) error {
	return generic(400, "AccessDeniedException", fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/member is not authorized to perform: ssm:%s on resource: arn:aws:ssm:%s:%s:parameter/%s %s",
		c.account, op, c.w.Region, c.account, strings.TrimPrefix(name, "/"), why))
}

// memberDenied is AWS's answer to the member role's op on the parameter name when its policy
// (or, for a write, the parameter's KMS key) denies it; nil otherwise, and for other callers.
func (c *SSM) memberDenied(op, name string) error {
	if !c.member {
		return nil
	}
	p, ok := c.w.params(c.account)[name]
	switch {
	case !ok:
		return c.denied(op, name, "because no identity-based policy allows the ssm:"+op+" action")
	case !tagged(p.tags, config.AppSecretOptInTag):
		return c.denied(op, name, "because no identity-based policy allows the ssm:"+op+" action")
	case op == "PutParameter" && p.memberWriteDenied == DenyByKMSKey:
		return generic(400, "AccessDeniedException", fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/member is not authorized to perform: kms:Encrypt on resource: %s",
			c.account, p.current().keyID))
	}
	return nil
}

// DescribeParameters lists the metadata of the parameters that match the filters; the model
// knows the filter Name with the option Equals, and answers in one page.
func (c *SSM) DescribeParameters(_ context.Context, in *ssm.DescribeParametersInput, _ ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error) {
	return do(c.w, c.call("DescribeParameters", in), "", func() (*ssm.DescribeParametersOutput, error) {
		var names []string
		for _, f := range in.ParameterFilters {
			if aws.ToString(f.Key) != "Name" || aws.ToString(f.Option) != "Equals" {
				return nil, generic(400, "InvalidFilterKey", "the model knows only the filter Name Equals")
			}
			names = append(names, f.Values...)
		}
		out := &ssm.DescribeParametersOutput{}
		params := c.w.params(c.account)
		for _, name := range slices.Sorted(maps.Keys(params)) {
			if len(in.ParameterFilters) > 0 && !slices.Contains(names, name) {
				continue
			}
			p := params[name]
			v := p.current()
			out.Parameters = append(out.Parameters, ssmtypes.ParameterMetadata{Name: aws.String(name), Type: p.typ, Tier: p.tier,
				Version: v.version, Description: optional(v.description), KeyId: optional(v.keyID), LastModifiedDate: aws.Time(v.modified),
				ARN: aws.String(fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", c.w.Region, c.account, strings.TrimPrefix(name, "/")))})
		}
		return out, nil
	})
}

// ListTagsForResource lists a parameter's tags; InvalidResourceId when it does not exist.
func (c *SSM) ListTagsForResource(_ context.Context, in *ssm.ListTagsForResourceInput, _ ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error) {
	name := aws.ToString(in.ResourceId)
	return do(c.w, c.call("ListTagsForResource", in), name, func() (*ssm.ListTagsForResourceOutput, error) {
		if in.ResourceType != ssmtypes.ResourceTypeForTaggingParameter {
			return nil, fail(400, &ssmtypes.InvalidResourceType{Message: aws.String("the model knows parameters only")})
		}
		if err := c.memberDenied("ListTagsForResource", name); err != nil {
			return nil, err
		}
		p, ok := c.w.params(c.account)[name]
		if !ok {
			return nil, fail(400, &ssmtypes.InvalidResourceId{Message: aws.String("The resource ID is not valid. Verify the ID and try again.")})
		}
		out := &ssm.ListTagsForResourceOutput{}
		for _, k := range slices.Sorted(maps.Keys(p.tags)) {
			out.TagList = append(out.TagList, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(p.tags[k])})
		}
		return out, nil
	})
}

// PutParameter creates a parameter, or with Overwrite makes a new version of it, as AWS
// documents: tags only on creation (ValidationException with Overwrite), ParameterAlreadyExists
// without Overwrite; on an overwrite the type, KMS key, tier and description not given are
// kept; the oldest of 100 versions is dropped.
func (c *SSM) PutParameter(_ context.Context, in *ssm.PutParameterInput, _ ...func(*ssm.Options)) (*ssm.PutParameterOutput, error) {
	name := aws.ToString(in.Name)
	return do(c.w, c.call("PutParameter", in), name, func() (*ssm.PutParameterOutput, error) {
		if aws.ToBool(in.Overwrite) && len(in.Tags) > 0 {
			return nil, generic(400, "ValidationException", "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. "+
				"To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
		}
		if err := c.memberDenied("PutParameter", name); err != nil {
			return nil, err
		}
		return c.w.putParameter(c.account, in)
	})
}

// putParameter is PutParameter's effect in account.
func (w *World) putParameter(account string, in *ssm.PutParameterInput) (*ssm.PutParameterOutput, error) {
	name := aws.ToString(in.Name)
	params := w.params(account)
	p, exists := params[name]
	switch {
	case exists && !aws.ToBool(in.Overwrite):
		return nil, fail(400, &ssmtypes.ParameterAlreadyExists{Message: aws.String("The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")})
	case !exists && in.Type == "":
		return nil, generic(400, "ValidationException", "A parameter type is required when you create a parameter.")
	case !exists:
		p = &parameter{name: name, typ: in.Type, tier: cmp.Or(in.Tier, ssmtypes.ParameterTierStandard), tags: map[string]string{}}
		for _, t := range in.Tags {
			p.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		params[name] = p
	}
	v := paramVersion{version: 1, value: aws.ToString(in.Value), description: aws.ToString(in.Description), keyID: aws.ToString(in.KeyId), modified: w.now()}
	if exists {
		last := p.current()
		v.version = last.version + 1
		if in.Description == nil {
			v.description = last.description
		}
		if in.KeyId == nil {
			v.keyID = last.keyID
		}
		if in.Type != "" {
			p.typ = in.Type
		}
		if in.Tier != "" {
			p.tier = in.Tier
		}
	}
	if p.typ == ssmtypes.ParameterTypeSecureString && v.keyID == "" {
		v.keyID = defaultSSMKey
	}
	if p.typ != ssmtypes.ParameterTypeSecureString {
		v.keyID = ""
	}
	p.versions = append(p.versions, v)
	if len(p.versions) > maxParamVersions {
		p.versions = p.versions[1:]
	}
	return &ssm.PutParameterOutput{Version: v.version, Tier: p.tier}, nil
}

// tagged reports whether tags has the key (an empty value counts: IAM's Null condition).
func tagged(tags map[string]string, key string) bool {
	_, ok := tags[key]
	return ok
}

// CreateAppParameter is an application team creating a SecureString (or typ) parameter in
// account, with a first value and tags (the owners' side: no fault, not observed).
func (w *World) CreateAppParameter(account, name, typ, value string, tags map[string]string) error {
	in := &ssm.PutParameterInput{Name: aws.String(name), Type: ssmtypes.ParameterType(typ), Value: aws.String(value)}
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		in.Tags = append(in.Tags, ssmtypes.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	_, err := w.putParameter(account, in)
	return err
}

// WriteAppParameter is an application team (its IaC) overwriting its parameter in account
// with value, giving no description (SSM keeps the current one); the owners' side.
func (w *World) WriteAppParameter(account, name, value string) error {
	_, err := w.putParameter(account, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Overwrite: aws.Bool(true)})
	return err
}

// SetAppParameterTag is an application team tagging its parameter (value "": removing the
// tag); the owners' side.
func (w *World) SetAppParameterTag(account, name, key, value string) error {
	p, ok := w.params(account)[name]
	if !ok {
		return fmt.Errorf("no parameter %s in %s", name, account)
	}
	delete(p.tags, key)
	if value != "" {
		p.tags[key] = value
	}
	return nil
}

// DeleteAppParameter is an application team deleting its parameter (at once: SSM has no
// recovery window); the owners' side.
func (w *World) DeleteAppParameter(account, name string) {
	delete(w.params(account), name)
}

// DenyMemberParamWrites makes the parameter's KMS key deny (DenyByKMSKey) the rotator's
// NotifyUser role its PutParameter, or allow it again ("").
func (w *World) DenyMemberParamWrites(account, name, by string) error {
	p, ok := w.params(account)[name]
	if !ok {
		return fmt.Errorf("no parameter %s in %s", name, account)
	}
	p.memberWriteDenied = by
	return nil
}

// AppParameter returns account's parameter name as SSM holds it.
func (w *World) AppParameter(account, name string) (Parameter, bool) {
	p, ok := w.params(account)[name]
	if !ok {
		return Parameter{}, false
	}
	v := p.current()
	return Parameter{Name: name, Type: string(p.typ), Value: v.value, Version: v.version, Description: v.description, KeyID: v.keyID,
		Tags: maps.Clone(p.tags), Versions: len(p.versions), MemberWriteDenied: p.memberWriteDenied}, true
}
