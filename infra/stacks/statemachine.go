package stacks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsstepfunctions"
	"github.com/aws/jsii-runtime-go"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// newStateMachine creates the workflow from the ASL definition, its role and its logs.
func (s *RotatorStack) newStateMachine(cfg Config, definition string) (awsstepfunctions.StateMachine, error) {
	stack := s.Stack
	role := awsiam.NewRole(stack, jsii.String("StateMachineRole"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("states.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": stack.Account()}},
		}),
		Description: jsii.String("Role of the " + StateMachineName + " state machine"),
	})
	var functionARNs []*string
	for _, f := range contract.Functions {
		arn := s.Functions[f].Function.FunctionArn()
		functionARNs = append(functionARNs, arn, jsii.String(*arn+":*"))
	}
	role.AddToPrincipalPolicy(allow([]string{"lambda:InvokeFunction"}, functionARNs...))
	role.AddToPrincipalPolicy(allow([]string{"sns:Publish"}, s.FailureTopic.TopicArn()))
	grantKeyUse(s.TopicKey, "PublishFailuresByStateMachine", role, nil, "kms:GenerateDataKey", "kms:Decrypt")
	// Under runs/: the ItemReaders read the account list and each account's notifications;
	// RecordNotificationFailure writes notify-failures/, and the account Map's ResultWriter
	// writes map-results/ (a multipart upload when its files are large).
	role.AddToPrincipalPolicy(allow([]string{"s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"},
		s.ReportBucket.ArnForObjects(jsii.String(RunsPrefix+"*"))))
	// The Distributed Map runs each batch as a child execution of this state machine. Its
	// ARN is built from the name: referring to the resource would make it depend on itself.
	self := stack.FormatArn(&awscdk.ArnComponents{
		Service: jsii.String("states"), Resource: jsii.String("stateMachine"),
		ResourceName: jsii.String(StateMachineName), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})
	execution := func(name string) *string {
		return stack.FormatArn(&awscdk.ArnComponents{
			Service: jsii.String("states"), Resource: jsii.String("execution"),
			ResourceName: jsii.String(name), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
		})
	}
	role.AddToPrincipalPolicy(allow([]string{"states:StartExecution"}, self))
	// The Map Runs follow and stop the child executions (execution:<name>/<map label>:<id>);
	// the Step Functions developer guide ("IAM policies for using Distributed Map states")
	// grants these actions on execution:<name>:* as well, which the CDK's own DistributedMap
	// grants since aws-cdk#34760.
	role.AddToPrincipalPolicy(allow([]string{"states:DescribeExecution", "states:StopExecution"},
		execution(StateMachineName+"/*"), execution(StateMachineName+":*")))

	logGroup := newLogGroup(stack, "StateMachineLogs", stateMachineLogGroupName, s.LogsKey)
	substitutions := map[string]*string{
		contract.FailureTopicArn:    s.FailureTopic.TopicArn(),
		contract.ReportBucketName:   s.ReportBucket.BucketName(),
		contract.AccountConcurrency: jsii.String(strconv.Itoa(cfg.MapConcurrency)),
		contract.NotifyConcurrency:  jsii.String(strconv.Itoa(cfg.NotifyConcurrency)),
		contract.Partition:          awscdk.Aws_PARTITION(),
		contract.AccountId:          awscdk.Aws_ACCOUNT_ID(),
		contract.ExecutionConsoleURL: jsii.String(statemachine.ExecutionConsoleURLPrefix(
			*consoleHosts(stack).FindInMap(awscdk.Aws_PARTITION(), jsii.String("host"), nil), *awscdk.Aws_REGION())),
	}
	var constructIDs []string
	for _, f := range contract.Functions {
		substitutions[f.ArnPlaceholder()] = s.Functions[f].Function.FunctionArn()
		constructIDs = append(constructIDs, functionConstructID(f))
	}
	for _, name := range contract.DefinitionPlaceholders {
		if substitutions[name] == nil {
			return nil, fmt.Errorf("state machine: no substitution for placeholder ${%s}", name)
		}
	}
	sm := awsstepfunctions.NewStateMachine(stack, jsii.String("StateMachine"), &awsstepfunctions.StateMachineProps{
		StateMachineName:        jsii.String(StateMachineName),
		StateMachineType:        awsstepfunctions.StateMachineType_STANDARD,
		DefinitionBody:          awsstepfunctions.DefinitionBody_FromString(jsii.String(definition)),
		DefinitionSubstitutions: &substitutions,
		Role:                    role,
		TracingEnabled:          jsii.Bool(true),
		Logs: &awsstepfunctions.LogOptions{
			Destination:          logGroup,
			Level:                awsstepfunctions.LogLevel_ALL,
			IncludeExecutionData: jsii.Bool(false), // payloads never land in logs
		},
	})
	suppressNag(role,
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Invoking a function's versions and aliases (<function ARN>:*) is what lambda:InvokeFunction needs when the definition names a qualified ARN",
			appliesTo: []string{`/^Resource::<(` + strings.Join(constructIDs, "|") + `)Function[0-9A-F]{8}\.Arn>:\*$/`},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Under runs/, named per run: the Distributed Maps' ItemReaders read the account list and each account's notifications, RecordNotificationFailure and the account Map's ResultWriter write there",
			appliesTo: []string{runsObjects},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "Distributed Map child executions of this state machine, and its executions, have generated names: execution:<name>/* and execution:<name>:* are the narrowest ARNs",
			appliesTo: []string{`/^Resource::arn:<AWS::Partition>:states:<AWS::Region>:` + nagAccountID + `:execution:` + nagPattern(StateMachineName) + `(\/|:)\*$/`},
		},
		suppression{
			rule:      "AwsSolutions-IAM5",
			reason:    "CloudWatch Logs log delivery (logs:*LogDelivery*, PutResourcePolicy, Describe*) and X-Ray trace writes support no resource-level permissions: Resource must be *",
			appliesTo: []string{"Resource::*"},
		},
	)
	return sm, nil
}

// consoleHosts maps each partition to its console's host (statemachine.ConsoleHosts), for
// the alerts' links to an execution.
func consoleHosts(stack awscdk.Stack) awscdk.CfnMapping {
	mapping := map[string]*map[string]any{}
	for partition, host := range statemachine.ConsoleHosts {
		mapping[partition] = &map[string]any{"host": host}
	}
	return awscdk.NewCfnMapping(stack, jsii.String("ConsoleHosts"), &awscdk.CfnMappingProps{Mapping: &mapping})
}

// newSchedule starts the state machine daily; with cleanupOnce, in cleanup mode.
func newSchedule(stack awscdk.Stack, cfg Config, sm awsstepfunctions.StateMachine) {
	input := map[string]any{}
	if cfg.CleanupOnce {
		input["cleanup"], input["confirmCleanup"] = true, workflow.CleanupConfirmation
		awscdk.Annotations_Of(stack).AddInfo(jsii.String(
			"cleanupOnce is true: the schedule starts cleanup runs. Deploy again with cleanupOnce=false after the first run."))
	}
	awsevents.NewRule(stack, jsii.String("Schedule"), &awsevents.RuleProps{
		RuleName:    jsii.String(ScheduleRuleName),
		Description: jsii.String("Starts the IAM access key rotator"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.Schedule)),
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSfnStateMachine(sm, &awseventstargets.SfnStateMachineProps{
			Input: awsevents.RuleTargetInput_FromObject(input),
		})},
	})
}
