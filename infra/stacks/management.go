package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// ManagementActions are all the management role may do.
var ManagementActions = []string{"organizations:ListAccounts", "organizations:DescribeOrganization"}

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
		reason:    "organizations:ListAccounts and organizations:DescribeOrganization support no resource-level permissions: Resource must be *",
		appliesTo: []string{"Resource::*"},
	})
	return stack
}
