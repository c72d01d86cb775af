package stacks

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Stack IDs (and CloudFormation stack names) of the app.
const (
	RotatorStackID        = "IamKeyRotator"
	ManagementRoleStackID = "IamKeyRotatorManagementRole"
	MemberRoleStackSetID  = "IamKeyRotatorMemberRoles"
)

// Stacks are the app's three stacks.
type Stacks struct {
	Rotator        *RotatorStack
	ManagementRole awscdk.Stack
	MemberRoles    awscdk.Stack
}

// Paths locates the files the app deploys.
type Paths struct {
	LambdaAssetDir string // <dir>/<function>/bootstrap for each function
	DefinitionPath string // the ASL file
}

// NewApp adds the rotator's stacks to app, each in its account, in deployment order
// (the trusted roles must exist before the roles that trust them), and applies the
// cdk-nag AwsSolutions checks to all of them.
func NewApp(app awscdk.App, cfg Config, paths Paths) (*Stacks, error) {
	// Each stack is bound to its account (so deploying one into the wrong account
	// fails) and takes its region from the deploying credentials.
	props := func(account, description string) awscdk.StackProps {
		return awscdk.StackProps{
			Env:         &awscdk.Environment{Account: jsii.String(account)},
			Description: jsii.String("IAM access key rotator: " + description),
		}
	}
	rotator, err := NewRotatorStack(app, RotatorStackID, &RotatorStackProps{
		StackProps:     props(cfg.RotatorAccountID, "functions, workflow, schedule, report bucket, alarm"),
		Config:         cfg,
		LambdaAssetDir: paths.LambdaAssetDir,
		DefinitionPath: paths.DefinitionPath,
	})
	if err != nil {
		return nil, err
	}
	management := NewManagementRoleStack(app, ManagementRoleStackID, &ManagementRoleStackProps{
		StackProps: props(cfg.ManagementAccountID, "the role that lists the organization's accounts, and the management account's member role"),
		Config:     cfg,
	})
	management.AddStackDependency(rotator.Stack, jsii.String("trusts the list-accounts role"))
	members, err := NewMemberRoleStackSet(app, MemberRoleStackSetID, &MemberRoleStackSetProps{
		StackProps: props(cfg.StackSetAdminAccountID, "StackSet of the member account role"),
		Config:     cfg,
	})
	if err != nil {
		return nil, err
	}
	members.AddStackDependency(rotator.Stack, jsii.String("member roles trust the scan-and-rotate role"))
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return &Stacks{Rotator: rotator, ManagementRole: management, MemberRoles: members}, nil
}
