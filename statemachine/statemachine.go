// Package statemachine owns the rotation workflow's Amazon States Language template,
// rotation.asl.json, and the one way to fill it in: the ${...} placeholders that infra/
// (CDK DefinitionSubstitutions) and the local runner (sandbox/runner) substitute, and the
// list of the Lambda functions its Tasks invoke.
package statemachine

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Template is rotation.asl.json as written: JSON only once the placeholders are filled in
// (the concurrency placeholders stand unquoted, in number position).
//
//go:embed rotation.asl.json
var Template []byte

// The placeholders of the template.
const (
	ListAccountsFunctionArn  = "ListAccountsFunctionArn"
	ScanAndRotateFunctionArn = "ScanAndRotateFunctionArn"
	NotifyUserFunctionArn    = "NotifyUserFunctionArn"
	CleanupReportFunctionArn = "CleanupReportFunctionArn"
	FailureTopicArn          = "FailureTopicArn"
	ReportBucketName         = "ReportBucketName"
	AccountConcurrency       = "AccountConcurrency"
	NotifyConcurrency        = "NotifyConcurrency"
	// Partition is the deployment's AWS partition (infra: AWS::Partition; the local
	// runner: aws), in the ARNs of the service integrations.
	Partition = "Partition"
	// AccountId is the account the state machine runs in (infra: AWS::AccountId), which the
	// failure topic's alerts name.
	AccountId = "AccountId"
	// ExecutionConsoleURL is the console page of an execution less the execution's ARN
	// (ExecutionConsoleURLPrefix), which the alerts end with $$.Execution.Id: their link to
	// the execution, child executions included.
	ExecutionConsoleURL = "ExecutionConsoleURL"
)

// ConsoleHosts is the AWS Management Console's host in each partition.
var ConsoleHosts = map[string]string{
	"aws":        "console.aws.amazon.com",
	"aws-cn":     "console.amazonaws.cn",
	"aws-us-gov": "console.amazonaws-us-gov.com",
}

// ExecutionConsoleURLPrefix is the value of the ExecutionConsoleURL placeholder: the Step
// Functions console's page of an execution, less the execution's ARN, for the console host
// of the partition (ConsoleHosts) and region. infra/ passes CloudFormation tokens for both.
func ExecutionConsoleURLPrefix(host, region string) string {
	return "https://" + host + "/states/home?region=" + region + "#/v2/executions/details/"
}

// Name is the deployed state machine's name, and the start of the name of every named
// resource of the rotator (infra/contract.NamePrefix): the local runner names its
// functions and executions as the stack does.
const Name = "iam-access-key-rotator"

// MemberStackSetName is the name of the StackSet that deploys the member roles.
const MemberStackSetName = Name + "-member-role"

// ConfigurationSetName is the name of the stack's SES configuration set, which every email
// goes through: it suppresses BOUNCE and COMPLAINT (pkg/suppression).
const ConfigurationSetName = Name + "-configset"

// ScanRoleName and NotifyRoleName name the roles of ScanAndRotate and NotifyUser in the
// rotator's account, which other accounts' trust policies and the hand-off key's policy name;
// HandoffKeyAlias names the KMS key that encrypts the hand-off secrets (keyrotator preflight
// reads its policy).
const (
	ScanRoleName    = Name + "-role"
	NotifyRoleName  = Name + "-notify-role"
	HandoffKeyAlias = "alias/" + Name + "-handoff"
)

// ScheduleRuleName is the name of the EventBridge rule that starts the daily run: the name
// the operators already know.
const ScheduleRuleName = "iam-access_key_rotator-rule"

// The Lambda functions, by folder under lambdas/ (deployed as iam-access-key-rotator-<name>:
// Function.DeployedName).
const (
	ListAccounts  = "list-accounts"
	ScanAndRotate = "scan-and-rotate"
	NotifyUser    = "notify-user"
	CleanupReport = "cleanup-report"
)

// Function is a Lambda function of the workflow: its folder under lambdas/, the
// placeholder of its ARN in the template, and its memory and timeout (the stack deploys
// them, the local runner runs and bills with them).
type Function struct {
	Name, ArnPlaceholder string
	MemoryMB             int
	Timeout              time.Duration
}

// DeployedName is the function's name on AWS, e.g. iam-access-key-rotator-list-accounts.
func (f Function) DeployedName() string { return Name + "-" + f.Name }

// Functions lists every Lambda function, in workflow order: the one list that the Makefile
// (LAMBDAS, held to it by a test), the local runner and infra/contract range over.
// ScanAndRotate may wait on IAM's rate limits in a large account for up to Lambda's 15
// minutes, ListAccounts on Organizations' for its listing (one ListAccounts page per 20
// accounts, 500 in the largest organizations; docs/scale.md).
var Functions = []Function{
	{ListAccounts, ListAccountsFunctionArn, 256, 15 * time.Minute},
	{ScanAndRotate, ScanAndRotateFunctionArn, 512, 15 * time.Minute},
	{NotifyUser, NotifyUserFunctionArn, 256, 2 * time.Minute},
	{CleanupReport, CleanupReportFunctionArn, 512, 10 * time.Minute},
}

// Placeholders are every ${...} name the template may use: the substitutions infra/ and the
// local runner must provide. A test holds the template to this list.
var Placeholders = []string{
	ListAccountsFunctionArn, ScanAndRotateFunctionArn, NotifyUserFunctionArn, CleanupReportFunctionArn,
	FailureTopicArn, ReportBucketName, AccountConcurrency, NotifyConcurrency, Partition, AccountId, ExecutionConsoleURL,
}

// LambdaRetriedErrors are the errors every Lambda Task of the template retries, in one
// retrier (so that they share its MaxAttempts, which the history budget counts):
// RetryableError is the Lambdas' own name for throttling and 5xx (package workflow); the
// Lambda.* service exceptions are Step Functions' recommended set; Lambda.Unknown (an
// unhandled error, out of memory), Sandbox.Timedout (the function's timeout) and
// Runtime.ExitError (the process exited mid-invocation) are the crashes docs/design.md counts
// as normal events, after which a re-run is safe. InvalidInput and FatalError are never
// retried: another attempt cannot help. A Task with TimeoutSeconds also retries
// States.Timeout (StatesTimeout).
var LambdaRetriedErrors = []string{
	workflow.ErrRetryable,
	"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
	"Lambda.TooManyRequestsException", "Lambda.ClientExecutionTimeoutException",
	"Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError",
}

// Attempts is how many times the Task state named state runs on the errors it retries: once,
// and once more per MaxAttempts of its first retrier (its only one, for a Lambda Task). It
// panics on a name that is no Task of Template with a retrier: the template is fixed at build.
func Attempts(state string) int {
	values := map[string]string{}
	for _, name := range Placeholders {
		values[name] = "1"
	}
	def, err := RenderTemplate(Template, values)
	if err != nil {
		panic(err)
	}
	type machine struct {
		States map[string]struct {
			Retry         []struct{ MaxAttempts *int }
			ItemProcessor *json.RawMessage
		}
	}
	var find func(raw []byte) int
	find = func(raw []byte) int {
		var m machine
		if err := json.Unmarshal(raw, &m); err != nil {
			panic(err)
		}
		for name, s := range m.States {
			if name == state && len(s.Retry) > 0 {
				retries := 3 // the ASL's default MaxAttempts
				if n := s.Retry[0].MaxAttempts; n != nil {
					retries = *n
				}
				return 1 + retries
			}
			if s.ItemProcessor != nil {
				if n := find(*s.ItemProcessor); n > 0 {
					return n
				}
			}
		}
		return 0
	}
	n := find(def)
	if n == 0 {
		panic("statemachine: no Task state " + state + " with a Retry in the template")
	}
	return n
}

// StatesTimeout is the error of a Task that ran past its TimeoutSeconds.
const StatesTimeout = "States.Timeout"

// NumberPlaceholders stand in number position: their values must be positive integers.
var NumberPlaceholders = []string{AccountConcurrency, NotifyConcurrency}

var placeholderRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// TemplatePlaceholders lists the distinct ${...} names found in template, in order of first
// appearance.
func TemplatePlaceholders(template []byte) []string {
	var names []string
	for _, m := range placeholderRE.FindAllSubmatch(template, -1) {
		if name := string(m[1]); !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// Render fills in Template with values, which must hold exactly Placeholders, and returns
// the definition as JSON.
func Render(values map[string]string) ([]byte, error) { return RenderTemplate(Template, values) }

// RenderTemplate fills in template: every placeholder must have a value and every value a
// placeholder; string values are JSON-escaped, number placeholders must be positive integers.
func RenderTemplate(template []byte, values map[string]string) ([]byte, error) {
	var problems []string
	for _, name := range Placeholders {
		v, ok := values[name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: no value", name))
		case slices.Contains(NumberPlaceholders, name):
			if n, err := strconv.Atoi(v); err != nil || n <= 0 {
				problems = append(problems, fmt.Sprintf("%s: must be a whole number greater than 0, got %q", name, v))
			}
		case v == "":
			problems = append(problems, fmt.Sprintf("%s: empty value", name))
		}
	}
	for name := range values {
		if !slices.Contains(Placeholders, name) {
			problems = append(problems, fmt.Sprintf("%s: not a placeholder of the template", name))
		}
	}
	if len(problems) > 0 {
		slices.Sort(problems)
		return nil, fmt.Errorf("render the state machine: %s", strings.Join(problems, "; "))
	}
	out := placeholderRE.ReplaceAllFunc(template, func(m []byte) []byte {
		name := string(m[2 : len(m)-1])
		v, ok := values[name]
		if !ok {
			return m // an unknown placeholder; reported below
		}
		if slices.Contains(NumberPlaceholders, name) {
			return []byte(v)
		}
		quoted, _ := json.Marshal(v)
		return quoted[1 : len(quoted)-1] // placeholders stand inside JSON strings
	})
	if left := TemplatePlaceholders(out); len(left) > 0 {
		return nil, fmt.Errorf("render the state machine: the template uses unknown placeholders %s", strings.Join(left, ", "))
	}
	if !json.Valid(out) {
		return nil, fmt.Errorf("render the state machine: the result is not JSON")
	}
	return out, nil
}
