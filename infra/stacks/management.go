package stacks

import (
	"slices"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ManagementActions are all the management role may do: list-accounts calls ListAccounts
// and nothing else in Organizations.
var ManagementActions = []string{"organizations:ListAccounts"}

// ManagementRoleStackProps configures the ManagementRoleStack.
type ManagementRoleStackProps struct {
	awscdk.StackProps
	Config Config
}

// NewManagementRoleStack creates, in the organization's management account, the role
// that the list-accounts function assumes to list the organization's accounts.
func NewManagementRoleStack(scope constructs.Construct, id string, props *ManagementRoleStackProps) awscdk.Stack {
	cfg := props.Config
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	listAccountsRole := roleARN(cfg.RotatorAccountID, ListAccountsRoleName)
	conditions := orgCondition(cfg.OrganizationID)
	role := awsiam.NewRole(stack, jsii.String("ManagementRole"), &awsiam.RoleProps{
		RoleName:    jsii.String(ManagementRoleName),
		Description: jsii.String("Assumed by the IAM access key rotator's list-accounts function to list the organization's accounts"),
		AssumedBy:   awsiam.NewArnPrincipal(jsii.String(listAccountsRole)).WithConditions(&conditions),
		InlinePolicies: &map[string]awsiam.PolicyDocument{
			"list-organization-accounts": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{
				Statements: &[]awsiam.PolicyStatement{allow(ManagementActions, jsii.String("*"))},
			}),
		},
	})
	suppressNag(role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "organizations:ListAccounts supports no resource-level permissions: Resource must be *",
		appliesTo: []string{"Resource::*"},
	})
	// A service-managed StackSet never deploys into the management account: its member
	// role comes from here, so that its IAM users are rotated like every other account's.
	// An excluded management account is never assumed into and gets no role.
	if !slices.Contains(cfg.ExcludeAccounts, cfg.ManagementAccountID) {
		newManagementAccountMemberRole(stack, cfg)
	}
	return stack
}

// newManagementAccountMemberRole creates the member role (newMemberRole) in the management
// account's stack.
func newManagementAccountMemberRole(stack awscdk.Stack, cfg Config) {
	m := newMemberRole(cfg)
	role := awsiam.NewCfnRole(stack, jsii.String("MemberRole"), &awsiam.CfnRoleProps{
		RoleName:                 jsii.String(m.Name),
		Description:              jsii.String(m.Description),
		AssumeRolePolicyDocument: m.Trust,
		Policies: &[]any{&awsiam.CfnRole_PolicyProperty{
			PolicyName:     jsii.String(m.PolicyName),
			PolicyDocument: m.Policy,
		}},
	})
	suppressNag(role, suppression{
		rule: "AwsSolutions-IAM5",
		reason: "The member role's account-wide IAM reads (credential report, ListUsers) support no resource-level permissions; its key and tag actions apply to this account's users, whose names are not known in advance (tags: the rotator's own keys only); " +
			"its secret writes apply to the account's secrets that opt in with the tag key-rotator:user (a condition), whose names the users' tags give, and its KMS use to this account's keys through Secrets Manager only (kms:ViaService)",
		appliesTo: []string{"Resource::*",
			"/^Resource::arn:(aws|<AWS::Partition>):iam::(<AWS::AccountId>|[0-9]{12}):user\\/\\*$/",
			"/^Resource::arn:(aws|<AWS::Partition>):secretsmanager:\\*:(<AWS::AccountId>|[0-9]{12}):secret:\\*$/",
			"/^Resource::arn:(aws|<AWS::Partition>):kms:\\*:(<AWS::AccountId>|[0-9]{12}):key\\/\\*$/"},
	})
}
