package stacks

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudformation"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// MemberAccountWideActions are the IAM actions of the member role that support no
// resource-level permissions (Resource "*"). GetAccountAuthorizationDetails reads every
// user's tags in one call per 1,000 users, when a RotationDays tag could make a key due.
var MemberAccountWideActions = []string{
	"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:ListUsers", "iam:GetAccountAuthorizationDetails",
}

// MemberUserActions are the IAM actions of the member role, on the account's users only.
var MemberUserActions = []string{
	"iam:ListAccessKeys", "iam:GetAccessKeyLastUsed", "iam:ListUserTags",
	"iam:CreateAccessKey", "iam:UpdateAccessKey", "iam:DeleteAccessKey",
}

// MemberTagActions are the member role's tag writes, on the account's users, for the
// rotator's own tag keys only (RotatorTagKeys).
var MemberTagActions = []string{"iam:TagUser", "iam:UntagUser"}

// MemberSecretActions are the member role's Secrets Manager actions, for delivering machine
// users' keys (pkg/appsecret): only on the account's secrets that carry the opt-in tag key
// (config.AppSecretOptInTag); the code checks that its value names the user.
var MemberSecretActions = []string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}

// MemberSecretKMSActions are what writing a secret encrypted with a customer managed key
// needs of the key (Secrets Manager calls KMS on the caller's behalf); allowed only through
// Secrets Manager (kms:ViaService), where the role can write and describe, never read.
var MemberSecretKMSActions = []string{"kms:GenerateDataKey", "kms:Decrypt"}

// RotatorTagKeys is the aws:TagKeys pattern of the tags the member role may write: the
// rotator's own, never an owner's email or exempt tag.
const RotatorTagKeys = config.RotatorTagKeyPrefix + "*"

// memberRole holds the properties of the member role, the same in every account: the
// StackSet's template and the management stack both create it from here.
type memberRole struct {
	Name, Description string
	Trust             map[string]any // AssumeRolePolicyDocument
	PolicyName        string
	Policy            map[string]any // its one inline policy
}

// newMemberRole is the role that the rotator's scan-and-rotate and notify-user roles assume in an account,
// allowed only the IAM calls the rotator makes (and the writes of machine users' keys to the
// secrets that opt in) and trusted only by that role, inside the organization. Account-specific parts are Fn::Sub expressions, valid in any template.
func newMemberRole(cfg Config) memberRole {
	rotatorRole := fmt.Sprintf("arn:${AWS::Partition}:iam::%s:role/%s", cfg.RotatorAccountID, RotatorRoleName)
	notifyRole := fmt.Sprintf("arn:${AWS::Partition}:iam::%s:role/%s", cfg.RotatorAccountID, NotifyRoleName)
	users := map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"}
	return memberRole{
		Name:        cfg.MemberRoleName,
		Description: "Assumed by the IAM access key rotator to rotate this account's IAM user access keys",
		Trust: policyDocument(map[string]any{
			"Effect":    "Allow",
			"Principal": map[string]any{"AWS": []any{map[string]any{"Fn::Sub": rotatorRole}, map[string]any{"Fn::Sub": notifyRole}}},
			"Action":    "sts:AssumeRole",
			"Condition": orgCondition(cfg.OrganizationID),
		}),
		PolicyName: "rotate-iam-user-access-keys",
		Policy: policyDocument(
			map[string]any{
				"Sid":      "AccountWideReadsWithoutResourceLevelPermissions",
				"Effect":   "Allow",
				"Action":   MemberAccountWideActions,
				"Resource": "*",
			},
			map[string]any{
				"Sid":      "UserAccessKeys",
				"Effect":   "Allow",
				"Action":   MemberUserActions,
				"Resource": users,
			},
			map[string]any{
				"Sid":       "OptedInSecretsOnly",
				"Effect":    "Allow",
				"Action":    MemberSecretActions,
				"Resource":  map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*"},
				"Condition": map[string]any{"Null": map[string]any{"secretsmanager:ResourceTag/" + config.AppSecretOptInTag: "false"}},
			},
			map[string]any{
				"Sid":       "SecretKeysThroughSecretsManagerOnly",
				"Effect":    "Allow",
				"Action":    MemberSecretKMSActions,
				"Resource":  map[string]any{"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
				"Condition": map[string]any{"StringLike": map[string]any{"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
			},
			map[string]any{
				"Sid":      "RotatorTagsOnly",
				"Effect":   "Allow",
				"Action":   MemberTagActions,
				"Resource": users,
				// ForAllValues alone would also pass a request without tag keys.
				"Condition": map[string]any{
					"ForAllValues:StringLike": map[string]any{"aws:TagKeys": RotatorTagKeys},
					"Null":                    map[string]any{"aws:TagKeys": "false"},
				},
			},
		),
	}
}

// MemberRoleTemplate is the CloudFormation template the StackSet deploys in every member
// account: the member role (newMemberRole). It is plain JSON rather than a synthesized CDK
// stack because it must be self-contained: no CDK bootstrap, assets or parameters in the
// member accounts.
func MemberRoleTemplate(cfg Config) ([]byte, error) {
	role := newMemberRole(cfg)
	template := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "IAM access key rotator: the role the rotator assumes in this member account",
		"Resources": map[string]any{
			"MemberRole": map[string]any{
				"Type": "AWS::IAM::Role",
				"Properties": map[string]any{
					"RoleName":                 role.Name,
					"Description":              role.Description,
					"AssumeRolePolicyDocument": role.Trust,
					"Policies":                 []any{map[string]any{"PolicyName": role.PolicyName, "PolicyDocument": role.Policy}},
				},
			},
		},
		"Outputs": map[string]any{
			"MemberRoleArn": map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{"MemberRole", "Arn"}}},
		},
	}
	body, err := json.MarshalIndent(template, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("member role template: %w", err)
	}
	return body, nil
}

func policyDocument(statements ...map[string]any) map[string]any {
	return map[string]any{"Version": "2012-10-17", "Statement": statements}
}

// MemberRoleStackSetProps configures the MemberRoleStackSet stack.
type MemberRoleStackSetProps struct {
	awscdk.StackProps
	Config Config
}

// NewMemberRoleStackSet creates the stack, deployed in the management account or a
// delegated StackSets administrator account, holding a service-managed StackSet that
// deploys MemberRoleTemplate to every account of stackSetTargets, now and as accounts join.
func NewMemberRoleStackSet(scope constructs.Construct, id string, props *MemberRoleStackSetProps) (awscdk.Stack, error) {
	cfg := props.Config
	body, err := MemberRoleTemplate(cfg)
	if err != nil {
		return nil, err
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)
	callAs := "SELF"
	if cfg.StackSetAdminAccountID != cfg.ManagementAccountID {
		callAs = "DELEGATED_ADMIN"
	}
	awscloudformation.NewCfnStackSet(stack, jsii.String("MemberRoles"), &awscloudformation.CfnStackSetProps{
		StackSetName:    jsii.String(MemberStackSetName),
		Description:     jsii.String("The role the IAM access key rotator assumes in every member account"),
		PermissionModel: jsii.String("SERVICE_MANAGED"),
		CallAs:          jsii.String(callAs),
		AutoDeployment: &awscloudformation.CfnStackSet_AutoDeploymentProperty{
			Enabled:                      jsii.Bool(true),
			RetainStacksOnAccountRemoval: jsii.Bool(false),
		},
		Capabilities:     jsii.Strings("CAPABILITY_NAMED_IAM"),
		ManagedExecution: map[string]any{"Active": true},
		OperationPreferences: &awscloudformation.CfnStackSet_OperationPreferencesProperty{
			FailureTolerancePercentage: jsii.Number(10),
			MaxConcurrentPercentage:    jsii.Number(25),
			RegionConcurrencyType:      jsii.String("PARALLEL"),
		},
		StackInstancesGroup: &[]*awscloudformation.CfnStackSet_StackInstancesProperty{{
			DeploymentTargets: &awscloudformation.CfnStackSet_DeploymentTargetsProperty{
				OrganizationalUnitIds: jsii.Strings(cfg.StackSetTargets...),
			},
			// IAM is global: one region per account is enough.
			Regions: &[]*string{stack.Region()},
		}},
		TemplateBody: jsii.String(string(body)),
	})
	return stack, nil
}
