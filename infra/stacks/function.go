package stacks

import (
	"fmt"
	"path/filepath"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
)

// FunctionProps configures one rotator Lambda; everything the four functions share
// (runtime, architecture, logging, tracing, role shape) is decided by NewRotatorFunction.
type FunctionProps struct {
	Function    contract.Function
	AssetDir    string // the folder of all function assets: <AssetDir>/<function>/bootstrap
	MemoryMB    float64
	Timeout     awscdk.Duration
	Environment map[string]*string
	RoleName    string // a fixed role name when other accounts trust the role; empty: generated
	LogsKey     awskms.IKey
}

// RotatorFunction is a Go Lambda of the rotator with its own role and log group.
type RotatorFunction struct {
	constructs.Construct
	Function awslambda.Function
	Role     awsiam.Role
	LogGroup awslogs.LogGroup
}

// newLogGroup is a log group kept a year as audit trail, encrypted with key.
func newLogGroup(scope constructs.Construct, id, name string, key awskms.IKey) awslogs.LogGroup {
	return awslogs.NewLogGroup(scope, jsii.String(id), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(name),
		Retention:     awslogs.RetentionDays_ONE_YEAR,
		EncryptionKey: key,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
}

// NewRotatorFunction creates the function (provided.al2023 on arm64, handler bootstrap,
// JSON logs, active X-Ray tracing), a role that may only write its own log group and
// traces, and the log group itself with a retention.
func NewRotatorFunction(scope constructs.Construct, id string, p FunctionProps) *RotatorFunction {
	c := constructs.NewConstruct(scope, jsii.String(id))
	name := p.Function.FunctionName()
	var roleName *string
	if p.RoleName != "" {
		roleName = jsii.String(p.RoleName)
	}
	role := awsiam.NewRole(c, jsii.String("Role"), &awsiam.RoleProps{
		RoleName:    roleName,
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String(fmt.Sprintf("Execution role of the %s function", name)),
	})
	logGroup := newLogGroup(c, "Logs", "/aws/lambda/"+name, p.LogsKey)
	role.AddToPrincipalPolicy(allow([]string{"logs:CreateLogStream", "logs:PutLogEvents"}, logGroup.LogGroupArn()))
	fn := awslambda.NewFunction(c, jsii.String("Function"), &awslambda.FunctionProps{
		FunctionName:          jsii.String(name),
		Description:           jsii.String("IAM access key rotator: " + string(p.Function)),
		Code:                  awslambda.Code_FromAsset(jsii.String(filepath.Join(p.AssetDir, string(p.Function))), nil),
		Handler:               jsii.String("bootstrap"),
		Runtime:               awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:          awslambda.Architecture_ARM_64(),
		MemorySize:            jsii.Number(p.MemoryMB),
		Timeout:               p.Timeout,
		Environment:           &p.Environment,
		Role:                  role,
		LogGroup:              logGroup,
		LoggingFormat:         awslambda.LoggingFormat_JSON,
		ApplicationLogLevelV2: awslambda.ApplicationLogLevel_INFO,
		SystemLogLevelV2:      awslambda.SystemLogLevel_WARN,
		Tracing:               awslambda.Tracing_ACTIVE,
	})
	suppressNag(role, suppression{
		rule:      "AwsSolutions-IAM5",
		reason:    "X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions: Resource must be *",
		appliesTo: []string{"Resource::*"},
	})
	skips := checkovSkips{}
	skips.skip(fn, "CKV_AWS_116", "No dead-letter queue: Step Functions invokes the function synchronously, retries it and catches its errors; a DLQ only serves asynchronous invocations")
	skips.skip(fn, "CKV_AWS_117", "Not in a VPC: the function only calls public AWS APIs (IAM, STS, S3, SES, ...); a VPC would add NAT or endpoints and no protection")
	skips.skip(fn, "CKV_AWS_115", "No reserved concurrency: the state machine bounds concurrency (mapConcurrency, notifyConcurrency); reserving would take from the account's unreserved pool, which new accounts cannot spare")
	skips.skip(fn, "CKV_AWS_173", "Environment variables hold configuration only (names, ARNs, limits), never a secret; the Lambda service encrypts them at rest with its own key")
	skips.apply()
	return &RotatorFunction{Construct: c, Function: fn, Role: role, LogGroup: logGroup}
}
