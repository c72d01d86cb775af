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

// MemberSecretActions are the member role's Secrets Manager actions, for machine users' keys
// (pkg/appsecret): ScanAndRotate checks that a secret opts in before it makes a key, and
// later that the key was written. Only on the account's secrets that carry the opt-in tag key
// (config.AppSecretOptInTag); the code checks that its value names the user. The writes are
// NotifyUser's, through its own role (NotifySecretActions).
var MemberSecretActions = []string{"secretsmanager:DescribeSecret"}

// ParamDescribeActions are the SSM actions of both member roles that support no
// resource-level permissions (Resource "*"): DescribeParameters lists the metadata of the
// account's parameters (name, type, version, description, KMS key), never a value; delivery
// to an SSM parameter (pkg/appsecret ssm.go) finds the parameter's current version with it.
var ParamDescribeActions = []string{"ssm:DescribeParameters"}

// MemberParamActions are the member role's SSM actions on the parameters that carry the opt-in
// tag key: ScanAndRotate checks that a parameter opts in before it makes a key.
var MemberParamActions = []string{"ssm:ListTagsForResource"}

// NotifyParamWriteActions are what NotifyUser's role may write to the parameters that carry the
// opt-in tag key, and only over an existing parameter (ssm:Overwrite): the new key.
var NotifyParamWriteActions = []string{"ssm:PutParameter"}

// NotifyParamKMSActions are what overwriting a SecureString encrypted with a customer managed
// key needs of the key (SSM calls KMS on the caller's behalf: Encrypt for a standard
// parameter, GenerateDataKey for an advanced one); through SSM only, never Decrypt, so the
// role cannot read a parameter's value.
var NotifyParamKMSActions = []string{"kms:Encrypt", "kms:GenerateDataKey"}

// RotatorTagKeys is the aws:TagKeys pattern of the tags the member role may write: the
// rotator's own, never an owner's email or exempt tag.
const RotatorTagKeys = config.RotatorTagKeyPrefix + "*"

// NotifyUserActions are the IAM actions of NotifyUser's role in a member account, on the
// account's users: it reads a user's tags (the notices already recorded, the exempt tag) and
// writes the notices tag (NotifyTagKeys), nothing else (pkg/history.RecordNotices).
var NotifyUserActions = []string{"iam:ListUserTags"}

// NotifyTagActions are the tag writes of NotifyUser's role, for NotifyTagKeys only.
var NotifyTagActions = []string{"iam:TagUser"}

// NotifyTagKeys are the only tag keys NotifyUser's role may write: the notices it delivered.
var NotifyTagKeys = []string{config.NoticesTag}

// NotifySecretActions are what NotifyUser's role may do to the account's secrets that carry
// the opt-in tag key: check the opt-in again and write the new key (pkg/appsecret.Write).
var NotifySecretActions = []string{"secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"}

// NotifySecretKMSActions are what writing a secret encrypted with a customer managed key
// needs of the key (Secrets Manager calls KMS on the caller's behalf); allowed only through
// Secrets Manager (kms:ViaService), where the role can write and describe, never read.
var NotifySecretKMSActions = []string{"kms:GenerateDataKey", "kms:Decrypt"}

// memberRole holds the properties of a role the rotator assumes in member accounts, the same
// in every account: the StackSet's template and the management stack both create it from here.
type memberRole struct {
	LogicalID         string // in the StackSet's template and the management stack
	Name, Description string
	Trust             map[string]any // AssumeRolePolicyDocument
	PolicyName        string
	Policy            map[string]any // its one inline policy
}

// memberRoles are the two roles of every member account: ScanAndRotate's (newMemberRole) and
// NotifyUser's (newNotifyMemberRole). Each trusts only its function's role, so that neither
// function can do what only the other's role allows.
func memberRoles(cfg Config) []memberRole {
	return []memberRole{newMemberRole(cfg), newNotifyMemberRole(cfg)}
}

// trustedBy is a trust policy that lets only the rotator account's role roleName assume the
// role, inside the organization.
func trustedBy(cfg Config, roleName string) map[string]any {
	role := fmt.Sprintf("arn:${AWS::Partition}:iam::%s:role/%s", cfg.RotatorAccountID, roleName)
	return policyDocument(map[string]any{
		"Effect":    "Allow",
		"Principal": map[string]any{"AWS": map[string]any{"Fn::Sub": role}},
		"Action":    "sts:AssumeRole",
		"Condition": orgCondition(cfg.OrganizationID),
	})
}

// The account's users and opted-in secrets, as Fn::Sub expressions valid in any template.
var (
	accountUsers   = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:user/*"}
	accountSecrets = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*"}
	optedIn        = map[string]any{"Null": map[string]any{"secretsmanager:ResourceTag/" + config.AppSecretOptInTag: "false"}}
	accountParams  = map[string]any{"Fn::Sub": "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter/*"}
	optedInParams  = map[string]any{"Null": map[string]any{"ssm:resourceTag/" + config.AppSecretOptInTag: "false"}}
)

// paramStatements are the SSM statements of a member role: DescribeParameters on "*", and
// actions on the parameters that opt in.
func paramStatements(actions []string) []map[string]any {
	return []map[string]any{
		{"Sid": "DescribeParametersWithoutResourceLevelPermissions", "Effect": "Allow", "Action": ParamDescribeActions, "Resource": "*"},
		{"Sid": "OptedInParametersOnly", "Effect": "Allow", "Action": actions, "Resource": accountParams, "Condition": optedInParams},
	}
}

// newMemberRole is the role that the rotator's scan-and-rotate role assumes in an account,
// allowed only the IAM calls it makes (and describing the secrets that opt in to machine
// users' keys) and trusted only by that role, inside the organization.
func newMemberRole(cfg Config) memberRole {
	return memberRole{
		LogicalID:   "MemberRole",
		Name:        cfg.MemberRoleName,
		Description: "Assumed by the IAM access key rotator's scan-and-rotate function to rotate this account's IAM user access keys",
		Trust:       trustedBy(cfg, RotatorRoleName),
		PolicyName:  "rotate-iam-user-access-keys",
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
				"Resource": accountUsers,
			},
			map[string]any{
				"Sid":       "OptedInSecretsOnly",
				"Effect":    "Allow",
				"Action":    MemberSecretActions,
				"Resource":  accountSecrets,
				"Condition": optedIn,
			},
			tagKeysOnly("RotatorTagsOnly", MemberTagActions, "ForAllValues:StringLike", RotatorTagKeys),
			paramStatements(MemberParamActions)[0], paramStatements(MemberParamActions)[1],
		),
	}
}

// newNotifyMemberRole is the role that the rotator's notify-user role assumes in an account
// (config.NotifyMemberRoleName): it records the notices delivered on the owner's IAM user and
// writes machine users' new keys to the secrets that opt in, and can do nothing else (no key
// is created, changed or deleted with it); trusted only by notify-user's role, inside the
// organization.
func newNotifyMemberRole(cfg Config) memberRole {
	return memberRole{
		LogicalID:   "NotifyMemberRole",
		Name:        config.NotifyMemberRoleName(cfg.MemberRoleName),
		Description: "Assumed by the IAM access key rotator's notify-user function to record delivered notices and write machine users' new keys to their secrets",
		Trust:       trustedBy(cfg, NotifyRoleName),
		PolicyName:  "record-notices-and-write-keys-to-secrets",
		Policy: policyDocument(
			map[string]any{
				"Sid":      "UserTagReads",
				"Effect":   "Allow",
				"Action":   NotifyUserActions,
				"Resource": accountUsers,
			},
			tagKeysOnly("NoticesTagOnly", NotifyTagActions, "ForAllValues:StringEquals", NotifyTagKeys),
			map[string]any{
				"Sid":       "OptedInSecretsOnly",
				"Effect":    "Allow",
				"Action":    NotifySecretActions,
				"Resource":  accountSecrets,
				"Condition": optedIn,
			},
			map[string]any{
				"Sid":       "SecretKeysThroughSecretsManagerOnly",
				"Effect":    "Allow",
				"Action":    NotifySecretKMSActions,
				"Resource":  map[string]any{"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
				"Condition": map[string]any{"StringLike": map[string]any{"kms:ViaService": "secretsmanager.*.amazonaws.com"}},
			},
			paramStatements(MemberParamActions)[0], paramStatements(MemberParamActions)[1],
			map[string]any{
				"Sid":       "OverwriteOptedInParametersOnly",
				"Effect":    "Allow",
				"Action":    NotifyParamWriteActions,
				"Resource":  accountParams,
				"Condition": map[string]any{"Null": optedInParams["Null"], "StringEquals": map[string]any{"ssm:Overwrite": "true"}},
			},
			map[string]any{
				"Sid":       "ParameterKeysThroughSSMOnly",
				"Effect":    "Allow",
				"Action":    NotifyParamKMSActions,
				"Resource":  map[string]any{"Fn::Sub": "arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*"},
				"Condition": map[string]any{"StringLike": map[string]any{"kms:ViaService": "ssm.*.amazonaws.com"}},
			},
		),
	}
}

// MemberRoleTemplate is the CloudFormation template the StackSet deploys in every member
// account: the member role and NotifyUser's role (memberRoles). It is plain JSON rather than a synthesized CDK
// stack because it must be self-contained: no CDK bootstrap, assets or parameters in the
// member accounts.
func MemberRoleTemplate(cfg Config) ([]byte, error) {
	resources, outputs := map[string]any{}, map[string]any{}
	for _, role := range memberRoles(cfg) {
		resources[role.LogicalID] = map[string]any{
			"Type": "AWS::IAM::Role",
			"Properties": map[string]any{
				"RoleName":                 role.Name,
				"Description":              role.Description,
				"AssumeRolePolicyDocument": role.Trust,
				"Policies":                 []any{map[string]any{"PolicyName": role.PolicyName, "PolicyDocument": role.Policy}},
			},
		}
		outputs[role.LogicalID+"Arn"] = map[string]any{"Value": map[string]any{"Fn::GetAtt": []string{role.LogicalID, "Arn"}}}
	}
	template := map[string]any{
		"AWSTemplateFormatVersion": "2010-09-09",
		"Description":              "IAM access key rotator: the roles the rotator assumes in this member account",
		"Resources":                resources,
		"Outputs":                  outputs,
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
		Description:     jsii.String("The roles the IAM access key rotator assumes in every member account"),
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

// tagKeysOnly allows actions on the account's users for requests whose tag keys all match
// keys under operator; ForAllValues alone would also pass a request without tag keys.
func tagKeysOnly(sid string, actions any, operator string, keys any) map[string]any {
	return map[string]any{
		"Sid":      sid,
		"Effect":   "Allow",
		"Action":   actions,
		"Resource": accountUsers,
		"Condition": map[string]any{
			operator: map[string]any{"aws:TagKeys": keys},
			"Null":   map[string]any{"aws:TagKeys": "false"},
		},
	}
}
