package stacks

import (
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// allow is an Allow statement of exactly these actions on exactly these resources.
func allow(actions []string, resources ...*string) awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Effect:    awsiam.Effect_ALLOW,
		Actions:   jsii.Strings(actions...),
		Resources: &resources,
	})
}

// allowIf is allow with a condition block.
func allowIf(conditions map[string]any, actions []string, resources ...*string) awsiam.PolicyStatement {
	s := allow(actions, resources...)
	for operator, value := range conditions {
		s.AddCondition(jsii.String(operator), value)
	}
	return s
}

// orgCondition restricts a trust policy to principals of the organization.
func orgCondition(organizationID string) map[string]any {
	return map[string]any{"StringEquals": map[string]any{"aws:PrincipalOrgID": organizationID}}
}

// newKey is a customer managed KMS key with yearly rotation whose key policy lets the
// account administer the key but use it for nothing: every use is granted explicitly
// with grantKeyUse, so that the key policy names who may encrypt and who may decrypt.
func newKey(scope constructs.Construct, id, alias, description string) awskms.Key {
	admin := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("KeyAdministrationByTheAccount"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions: jsii.Strings(
			"kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey",
			"kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
			"kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListGrants", "kms:ListResourceTags",
			"kms:PutKeyPolicy", "kms:RevokeGrant", "kms:ScheduleKeyDeletion", "kms:TagResource",
			"kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
		),
		Resources: jsii.Strings("*"), // in a key policy, "*" is this key
	})
	return awskms.NewKey(scope, jsii.String(id), &awskms.KeyProps{
		Alias:             jsii.String(alias),
		Description:       jsii.String(description),
		EnableKeyRotation: jsii.Bool(true),
		Policy:            awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{admin}}),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
}

// grantKeyUse lets role call actions on key: in the key policy (which alone decides who
// may use the key, since it does not delegate use to IAM) and in the role's policy.
// conditions, when not nil, applies to both statements.
func grantKeyUse(key awskms.Key, sid string, role awsiam.IRole, conditions map[string]any, actions ...string) {
	keyStatement := awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String(sid),
		Principals: &[]awsiam.IPrincipal{awsiam.NewArnPrincipal(role.RoleArn())},
		Actions:    jsii.Strings(actions...),
		Resources:  jsii.Strings("*"),
	})
	for operator, value := range conditions {
		keyStatement.AddCondition(jsii.String(operator), value)
	}
	key.AddToResourcePolicy(keyStatement, jsii.Bool(false))
	role.AddToPrincipalPolicy(allowIf(conditions, actions, key.KeyArn()))
}

// suppression is one reasoned exception to a security rule.
type suppression struct {
	rule      string   // cdk-nag rule ID, e.g. AwsSolutions-IAM5
	reason    string   // why the finding is acceptable here
	appliesTo []string // finding IDs it covers (Resource::*, or /regex/); empty: all of rule
}

// suppressNag records reasoned cdk-nag suppressions on a construct and its children.
func suppressNag(c constructs.IConstruct, suppressions ...suppression) {
	list := make([]*cdknag.NagPackSuppression, 0, len(suppressions))
	for _, s := range suppressions {
		p := &cdknag.NagPackSuppression{Id: jsii.String(s.rule), Reason: jsii.String(s.reason)}
		if len(s.appliesTo) > 0 {
			applies := make([]any, len(s.appliesTo))
			for i, a := range s.appliesTo {
				if strings.HasPrefix(a, "/") {
					applies[i] = &cdknag.RegexAppliesTo{Regex: jsii.String(a)}
				} else {
					applies[i] = a
				}
			}
			p.AppliesTo = &applies
		}
		list = append(list, p)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(c, &list, jsii.Bool(true))
}

// checkovSkips collects reasoned checkov skips per CloudFormation resource and writes
// them, once, as the resource's `Metadata.checkov.skip` that checkov reads.
type checkovSkips map[awscdk.CfnResource][]map[string]string

// skip records that checkov check id does not apply to the resource behind c.
func (s checkovSkips) skip(c constructs.IConstruct, id, comment string) {
	res, ok := c.(awscdk.CfnResource)
	if !ok {
		res = c.Node().DefaultChild().(awscdk.CfnResource)
	}
	s[res] = append(s[res], map[string]string{"id": id, "comment": comment})
}

// apply writes the collected skips into the resources' metadata.
func (s checkovSkips) apply() {
	for res, skips := range s {
		sort.Slice(skips, func(i, j int) bool { return skips[i]["id"] < skips[j]["id"] })
		res.AddMetadata(jsii.String("checkov"), map[string]any{"skip": skips})
	}
}
