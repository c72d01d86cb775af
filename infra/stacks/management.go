package stacks

import (
	"fmt"
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// ManagementActions are the Organizations reads list-accounts always makes (pkg/org):
// ListAccounts, which supports no resource-level permissions.
var ManagementActions = []string{"organizations:ListAccounts"}

// ManagementOUActions walk down from each excluded OU (excludeOus): granted only when
// there is one.
var ManagementOUActions = []string{"organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"}

// TagReaderActions read one account's tags for excludeAccountTag, on the organization's
// accounts only: the tag-reader role's only grant, which each account's ScanAndRotate uses
// before anything else in that account (pkg/org TagReader).
var TagReaderActions = []string{"organizations:ListTagsForResource"}

// managementStatements are the management role's grants for this configuration, exactly
// the calls list-accounts makes with it.
func managementStatements(cfg Config) []awsiam.PolicyStatement {
	list := ManagementActions
	if len(cfg.ExcludeOUs) > 0 {
		list = append(slices.Clone(list), ManagementOUActions...)
	}
	return []awsiam.PolicyStatement{allow(list, jsii.String("*"))}
}

// tagExclusion reports whether accounts are excluded by tag (excludeAccountTag is not "none").
func tagExclusion(cfg Config) bool { return cfg.ExcludeAccountTag != config.NoExcludeAccountTag }

// tagReaderRoleARN is the role ScanAndRotate assumes in the management account to read its
// account's exclusion tag.
func tagReaderRoleARN(cfg Config) string { return roleARN(cfg.ManagementAccountID, TagReaderRoleName) }

// newTagReaderRole creates the role through which each account's ScanAndRotate reads that
// account's exclusion tag: only the scan-and-rotate function's role, inside the
// organization, may assume it, and it may only list the tags of the organization's accounts.
// A role of its own rather than a grant on the management role, so that ScanAndRotate (which
// 10,000 child executions run) cannot list the organization or walk its OUs.
func newTagReaderRole(stack awscdk.Stack, cfg Config) {
	conditions := orgCondition(cfg.OrganizationID)
	accounts := fmt.Sprintf("arn:%s:organizations::%s:account/%s/*", *awscdk.Aws_PARTITION(), cfg.ManagementAccountID, cfg.OrganizationID)
	role := awsiam.NewRole(stack, jsii.String("TagReaderRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(TagReaderRoleName),
		Description: jsii.String("Assumed by the IAM access key rotator's scan-and-rotate function to read its account's exclusion tag"),
		AssumedBy:   awsiam.NewArnPrincipal(jsii.String(roleARN(cfg.RotatorAccountID, RotatorRoleName))).WithConditions(&conditions),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"read-account-tags": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{allow(TagReaderActions, jsii.String(accounts))},
			}),
		},
	})
	suppressNag(role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "organizations:ListTagsForResource reads the tags of any account of this organization (excludeAccountTag), no other resource",
		appliesTo: []string{"/^Resource::arn:" + nagPartition + ":organizations::[0-9]{12}:account\\/o-[a-z0-9]+\\/\\*$/"},
	})
}

// ManagementRoleStackProps configures the ManagementRoleStack.
type ManagementRoleStackProps struct {
	awscdk.StackProps
	Config Config
}

// NewManagementRoleStack creates, in the organization's management account, the role
// that the list-accounts function assumes to list the organization's accounts, and the one
// through which scan-and-rotate reads its account's exclusion tag.
func NewManagementRoleStack(scope constructs.Construct, id string, props *ManagementRoleStackProps) awscdk.Stack {
	cfg := props.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	listAccountsRole := roleARN(cfg.RotatorAccountID, ListAccountsRoleName)
	conditions := orgCondition(cfg.OrganizationID)
	statements := managementStatements(cfg)
	role := awsiam.NewRole(stack, jsii.String("ManagementRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(ManagementRoleName),
		Description: jsii.String("Assumed by the IAM access key rotator's list-accounts function to list the organization's accounts"),
		AssumedBy:   awsiam.NewArnPrincipal(jsii.String(listAccountsRole)).WithConditions(&conditions),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"list-organization-accounts": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &statements,
			}),
		},
	})
	suppressNag(role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "organizations:ListAccounts (and the OU walk of excludeOus) reads the whole organization: Resource is *",
		appliesTo: []string{"Resource::*"},
	})
	if tagExclusion(cfg) {
		newTagReaderRole(stack, cfg)
	}
	// A service-managed StackSet never deploys into the management account: its member
	// roles come from here, so that its IAM users are rotated like every other account's.
	// An excluded management account is never assumed into and gets no role.
	if !slices.Contains(cfg.ExcludeAccounts, cfg.ManagementAccountID) {
		newManagementAccountMemberRole(stack, cfg)
	}
	return stack
}

// newManagementAccountMemberRole creates the member roles (memberRoles: ScanAndRotate's and
// NotifyUser's) in the management account's stack.
func newManagementAccountMemberRole(stack awscdk.Stack, cfg Config) {
	for _, m := range memberRoles(cfg) {
		role := awsiam.NewCfnRole(stack, jsii.String(m.LogicalID), &awsiam.CfnRoleProps{
			RoleName:                 jsii.String(m.Name),
			Description:              jsii.String(m.Description),
			AssumeRolePolicyDocument: m.Trust,
			Policies: &[]any{&awsiam.CfnRole_PolicyProperty{
				PolicyName:     jsii.String(m.PolicyName),
				PolicyDocument: m.Policy,
			}},
		})
		suppressNag(role, memberRolesNagSuppression)
	}
}

// memberRolesNagSuppression explains the wildcards of the member roles' policies.
var memberRolesNagSuppression = suppression{
	rule: "AwsSolutions-IAM5",
	reason: "The member role's account-wide IAM reads (credential report, ListUsers, GetAccountAuthorizationDetails) support no resource-level permissions; the member roles' key and tag actions apply to this account's users, whose names are not known in advance (tags: the rotator's own keys only, and for notify-user's role the notices tag only); " +
		"their secret actions apply to the account's secrets that opt in with the tag key key-rotator:user (a condition), whose names the users' tags give, and notify-user's role's KMS use to this account's keys through Secrets Manager only (kms:ViaService); " +
		"their SSM actions likewise apply to the account's parameters that opt in with that tag key (ssm:resourceTag), notify-user's role's writes only over existing ones (ssm:Overwrite) and its KMS use through SSM only, never Decrypt; ssm:DescribeParameters supports no resource-level permissions (metadata, never a value)",
	appliesTo: []string{"Resource::*",
		"/^Resource::arn:" + nagPartition + ":iam::" + nagAccountID + ":user\\/\\*$/",
		"/^Resource::arn:" + nagPartition + ":secretsmanager:\\*:" + nagAccountID + ":secret:\\*$/",
		"/^Resource::arn:" + nagPartition + ":ssm:\\*:" + nagAccountID + ":parameter\\/\\*$/",
		"/^Resource::arn:" + nagPartition + ":kms:\\*:" + nagAccountID + ":key\\/\\*$/"},
}
