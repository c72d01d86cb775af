// Package contract names what the CDK app and the rest of the system must agree on:
// the four Lambda functions, the environment variables they read, the run metrics, and the
// ${...} placeholders the stack substitutes into statemachine/rotation.asl.json.
//
// It imports nothing from the CDK, so a test in any module can check the Lambdas
// and the state machine definition against it without building the CDK app.
package contract

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/metrics"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// NamePrefix starts the name of every named resource of the rotator (statemachine.Name).
const NamePrefix = statemachine.Name

// Function is a Lambda function of the rotator: its folder under lambdas/ and under
// the Lambda asset directory (build/lambda/<name>/bootstrap).
type Function string

// The four Lambda functions: package statemachine of the root module names them.
const (
	ListAccounts  Function = statemachine.ListAccounts
	ScanAndRotate Function = statemachine.ScanAndRotate
	NotifyUser    Function = statemachine.NotifyUser
	CleanupReport Function = statemachine.CleanupReport
)

// Functions lists every Lambda function in workflow order (statemachine.Functions).
var Functions = func() []Function {
	var fs []Function
	for _, f := range statemachine.Functions {
		fs = append(fs, Function(f.Name))
	}
	return fs
}()

// ArnPlaceholder is the placeholder of the function's ARN in the state machine's template.
func (f Function) ArnPlaceholder() string { return f.spec().ArnPlaceholder }

// MemoryMB and Timeout are the function's size, as statemachine.Functions gives it.
func (f Function) MemoryMB() int          { return f.spec().MemoryMB }
func (f Function) Timeout() time.Duration { return f.spec().Timeout }

func (f Function) spec() statemachine.Function {
	for _, g := range statemachine.Functions {
		if g.Name == string(f) {
			return g
		}
	}
	panic(fmt.Sprintf("contract: %q is not a function of statemachine.Functions", string(f)))
}

// FunctionName is the deployed Lambda function name, e.g. iam-access-key-rotator-list-accounts.
func (f Function) FunctionName() string { return f.spec().DeployedName() }

// EnvVar is the name of an environment variable that a Lambda reads; package config of
// the root module names them all (config.Variables).
type EnvVar = string

// FunctionEnv is the variables each function receives: config.Functions decides them.
var FunctionEnv = func() map[Function][]EnvVar {
	env := map[Function][]EnvVar{}
	for name, vars := range config.Functions {
		env[Function(name)] = vars.Reads
	}
	return env
}()

// MetricNamespace holds the run metrics CleanupReport emits (as CloudWatch embedded metric
// format log lines, which need no API permission) and the dashboard shows.
const MetricNamespace = metrics.Namespace

// RunMetrics are the dimension-less metrics of MetricNamespace, each a count per run: package
// metrics of the root module names them, and pkg/report emits each.
var RunMetrics = metrics.Runs

// TagKeySecretName names the secret holding the key that signs the rotator's tags on IAM
// users (config.TagKeySecretName): only ScanAndRotate and NotifyUser may read it.
const TagKeySecretName = config.TagKeySecretName

// HandoffSecretNamePrefix starts the name of every hand-off secret that ScanAndRotate
// creates for NotifyUser.
const HandoffSecretNamePrefix = config.DefaultHandoffSecretPrefix

// The ${...} placeholders of statemachine/rotation.asl.json that the stack substitutes:
// package statemachine of the root module names them, for the local runner too.
const (
	ListAccountsFunctionArn  = statemachine.ListAccountsFunctionArn
	ScanAndRotateFunctionArn = statemachine.ScanAndRotateFunctionArn
	NotifyUserFunctionArn    = statemachine.NotifyUserFunctionArn
	CleanupReportFunctionArn = statemachine.CleanupReportFunctionArn
	FailureTopicArn          = statemachine.FailureTopicArn
	ReportBucketName         = statemachine.ReportBucketName
	AccountConcurrency       = statemachine.AccountConcurrency
	NotifyConcurrency        = statemachine.NotifyConcurrency
	Partition                = statemachine.Partition
	AccountId                = statemachine.AccountId
	ExecutionConsoleURL      = statemachine.ExecutionConsoleURL
)

// DefinitionPlaceholders lists every placeholder the stack substitutes, sorted.
var DefinitionPlaceholders = func() []string {
	names := slices.Clone(statemachine.Placeholders)
	sort.Strings(names)
	return names
}()

// Placeholders returns the distinct ${Name} placeholders in an ASL definition, sorted. It
// finds anything CloudFormation takes for a parameter reference, ${...}: even in prose (an
// ASL Comment) it must be a substituted placeholder, or CloudFormation rejects the template
// (cfn-lint E1029).
func Placeholders(definition []byte) []string {
	names := statemachine.TemplatePlaceholders(definition)
	sort.Strings(names)
	return names
}

// CheckPlaceholders reports a placeholder of the definition that the stack does not
// substitute: Step Functions would otherwise run with a literal "${Name}" in it.
func CheckPlaceholders(definition []byte) error {
	for _, name := range Placeholders(definition) {
		if !slices.Contains(DefinitionPlaceholders, name) {
			return fmt.Errorf("placeholder ${%s} is not substituted by the stack (it substitutes %v); "+
				"CloudFormation rejects any other ${...}, even in a Comment", name, DefinitionPlaceholders)
		}
	}
	return nil
}
