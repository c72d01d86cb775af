package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/alert"
	"github.com/keyrotator/iam-access-key-rotator/pkg/rotate"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// values are substitutions of the shape infra/ and the local runner give.
func values() map[string]string {
	v := map[string]string{
		statemachine.FailureTopicArn:     "arn:aws:sns:us-east-1:111122223333:keyrotator-failures",
		statemachine.ReportBucketName:    "keyrotator-reports-111122223333",
		statemachine.AccountConcurrency:  "10",
		statemachine.NotifyConcurrency:   "2",
		statemachine.Partition:           "aws",
		statemachine.AccountId:           "111122223333",
		statemachine.ExecutionConsoleURL: statemachine.ExecutionConsoleURLPrefix(statemachine.ConsoleHosts["aws"], "us-east-1"),
	}
	for _, f := range statemachine.Functions {
		v[f.ArnPlaceholder] = "arn:aws:lambda:us-east-1:111122223333:function:keyrotator-" + f.Name
	}
	return v
}

func TestTemplateUsesOnlyTheListedPlaceholders(t *testing.T) {
	got := statemachine.TemplatePlaceholders(statemachine.Template)
	slices.Sort(got)
	want := slices.Clone(statemachine.Placeholders)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("rotation.asl.json uses placeholders %v; statemachine.Placeholders (what infra/ substitutes) lists %v", got, want)
	}
}

func TestRenderRejectsBadValues(t *testing.T) {
	tests := []struct {
		name   string
		change func(map[string]string)
		want   string
	}{
		{"missing value", func(v map[string]string) { delete(v, statemachine.FailureTopicArn) }, "FailureTopicArn: no value"},
		{"unknown name", func(v map[string]string) { v["TableName"] = "x" }, "TableName: not a placeholder"},
		{"concurrency not a number", func(v map[string]string) { v[statemachine.AccountConcurrency] = "ten" }, "AccountConcurrency: must be a whole number"},
		{"concurrency zero", func(v map[string]string) { v[statemachine.NotifyConcurrency] = "0" }, "NotifyConcurrency: must be a whole number"},
		{"empty ARN", func(v map[string]string) { v[statemachine.NotifyUserFunctionArn] = "" }, "NotifyUserFunctionArn: empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := values()
			tt.change(v)
			_, err := statemachine.Render(v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	t.Run("unknown placeholder in a template", func(t *testing.T) {
		_, err := statemachine.RenderTemplate([]byte(`{"a": "${Other}"}`), values())
		if err == nil || !strings.Contains(err.Error(), "Other") {
			t.Errorf("error %v, want one naming the unknown placeholder", err)
		}
	})
	t.Run("string values are escaped", func(t *testing.T) {
		v := values()
		v[statemachine.ReportBucketName] = `a"b`
		out, err := statemachine.Render(v)
		if err != nil || !json.Valid(out) {
			t.Fatalf("render: %v", err)
		}
	})
}

// TestRenderedDefinitionIsValidASL runs the interpreter's own validator (asl-validator, as
// aws-local-stepfunctions calls it: ARNs and JSONPaths checked) on the rendered definition
// and on the local runner's variant, and checks that it rejects a broken one.
func TestRenderedDefinitionIsValidASL(t *testing.T) {
	def, err := statemachine.Render(values())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := runner.Validate(ctx, "", def); err != nil {
		t.Errorf("rendered definition: %v", err)
	}
	local, err := runner.LocalDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.Validate(ctx, "", local); err != nil {
		t.Errorf("the local runner's definition: %v", err)
	}
	broken := strings.Replace(string(def), `"Next": "CleanupReport"`, `"Next": "Nowhere"`, 1)
	if err := runner.Validate(ctx, "", []byte(broken)); err == nil || !strings.Contains(err.Error(), "Nowhere") {
		t.Errorf("a transition to a missing state: error %v, want one naming it", err)
	}
}

// Step Functions' hard limit on one execution's history.
const historyLimit = 25000

// The event model, from the Step Functions history event types, worst case (every retry
// used, then caught):
//   - a Lambda Task (Resource: a function ARN): TaskStateEntered, LambdaFunctionScheduled,
//     LambdaFunctionStarted, LambdaFunctionSucceeded|Failed, TaskStateExited = 5, plus 3
//     (Scheduled, Started, Failed) per retry, up to the sum of its retriers' MaxAttempts;
//   - a service integration Task (sns:publish): TaskStateEntered, TaskScheduled, TaskStarted,
//     TaskSubmitted, TaskSucceeded, TaskStateExited = 6, plus 4 per retry;
//   - Pass: Entered + Exited = 2; Fail: FailStateEntered + ExecutionFailed = 2;
//   - inline Map: MapStateEntered, MapStateStarted, MapStateSucceeded, MapStateExited = 4,
//     plus per item MapIterationStarted + MapIterationSucceeded = 2 and its states' events;
//   - Distributed Map, in the execution that runs it: MapStateEntered, MapRunStarted,
//     MapRunSucceeded, MapStateExited = 4, whatever the item count: each item is its own
//     child execution (ExecutionStarted + its states + ExecutionSucceeded) with its own
//     25,000-event budget;
//   - the execution itself: ExecutionStarted + ExecutionSucceeded = 2.
type eventModel struct {
	items map[string]int // items per Map state name
}

type aslState struct {
	Type           string
	Resource       string
	Next           string
	End            bool
	Default        string
	Choices        []struct{ Next string }
	TimeoutSeconds *int
	Retry          []struct {
		ErrorEquals []string
		MaxAttempts *int
	}
	Catch []struct {
		ErrorEquals []string
		Next        string
	}
	ItemProcessor *aslMachine
	ItemReader    json.RawMessage
}

type aslMachine struct {
	StartAt string
	States  map[string]aslState
}

// worst returns the most events any path from start through m produces, and the largest
// child execution its Distributed Maps start.
func (em eventModel) worst(t *testing.T, m *aslMachine, distributed map[string]bool) (events, child int) {
	memo := map[string]int{}
	var from func(name string, depth int) int
	from = func(name string, depth int) int {
		if depth > len(m.States) {
			t.Fatalf("cycle through state %s", name)
		}
		if n, ok := memo[name]; ok {
			return n
		}
		s, ok := m.States[name]
		if !ok {
			t.Fatalf("no state %s", name)
		}
		n := 0
		retries := 0
		for _, r := range s.Retry {
			attempts := 3 // the ASL default
			if r.MaxAttempts != nil {
				attempts = *r.MaxAttempts
			}
			retries += attempts
		}
		switch s.Type {
		case "Task":
			if strings.HasPrefix(s.Resource, "arn:aws:states:::") {
				n = 6 + 4*retries
			} else {
				n = 5 + 3*retries
			}
		case "Pass", "Succeed", "Fail", "Choice", "Wait":
			n = 2
		case "Map":
			inner, innerChild := em.worst(t, s.ItemProcessor, distributed)
			child = max(child, innerChild)
			if distributed[name] {
				n = 4
				child = max(child, 2+inner)
			} else {
				n = 4 + em.items[name]*(2+inner)
			}
		default:
			t.Fatalf("state %s: type %s not in the model", name, s.Type)
		}
		next := 0
		for _, c := range s.Catch {
			next = max(next, from(c.Next, depth+1))
		}
		for _, target := range append([]string{s.Next, s.Default}, choiceTargets(s)...) {
			if target != "" {
				next = max(next, from(target, depth+1))
			}
		}
		memo[name] = n + next
		return memo[name]
	}
	return from(m.StartAt, 0), child
}

func choiceTargets(s aslState) []string {
	var out []string
	for _, c := range s.Choices {
		out = append(out, c.Next)
	}
	return out
}

// historyEvents parses a rendered definition and returns the worst-case events of the
// parent execution (including ExecutionStarted/Succeeded) and of the largest child execution.
func historyEvents(t *testing.T, def []byte, em eventModel) (parent, child int) {
	var m aslMachine
	if err := json.Unmarshal(def, &m); err != nil {
		t.Fatal(err)
	}
	type rawMachine struct {
		States map[string]json.RawMessage
	}
	distributed := map[string]bool{}
	var walk func(raw []byte)
	walk = func(raw []byte) {
		var machine rawMachine
		if err := json.Unmarshal(raw, &machine); err != nil {
			t.Fatal(err)
		}
		for name, state := range machine.States {
			var s struct {
				ItemProcessor *struct {
					ProcessorConfig struct{ Mode string }
				}
			}
			var inner struct {
				ItemProcessor json.RawMessage
			}
			if err := json.Unmarshal(state, &s); err != nil || json.Unmarshal(state, &inner) != nil {
				t.Fatal(err)
			}
			if s.ItemProcessor != nil {
				distributed[name] = s.ItemProcessor.ProcessorConfig.Mode == "DISTRIBUTED"
				walk(inner.ItemProcessor)
			}
		}
	}
	walk(def)
	events, child := em.worst(t, &m, distributed)
	return 2 + events, child
}

// TestHistoryStaysUnderLimitAt10000Accounts: at 10,000 accounts and any number of
// notifications in an account, neither the execution nor any of its child executions
// reaches 25,000 events.
//
// Parent: 2 (execution) + ListAccounts 5 + 3×4 retries = 17, ProcessAccounts 4 (a
// Distributed Map: the accounts do not count here), CleanupReport 5 + 3×4 = 17; the worst
// path is a caught CleanupReport failure: + Pass 2 + FailureAlert 2 + FailureMessage 2 +
// PublishFailure 6 + 4×3 + Fail 2 = 66 events, for 10 or 10,000 accounts alike. Inline, the same Map would cost 10,000 × (2 +
// ScanAndRotate 14 + …) ≥ 160,000.
//
// Account (a child execution): 2 + ScanAndRotate 5 + 3×3 = 14 + HasNotifications 2, then
// AccountDone 2, or NotifyOwners 4 (a Distributed Map too: the notifications do not count
// here) and, when its Map Run fails, NotifyOwnersFailedAlert 2 + NotifyOwnersFailedMessage 2
// + NotifyOwnersFailed 6 + 4×3 = 22: 44 events, whatever the account's users and notifications.
//
// Notification (a child of the account's execution): 2 + NotifyUser 5 + 3×6 = 23 +
// RecordNotificationFailure (an S3 put) 6 + 4×1 + NotificationFailedAlert 2 +
// NotificationFailedMessage 2 + NotificationFailed (an SNS publish) 6 + 4×1 = 49 events.
func TestHistoryStaysUnderLimitAt10000Accounts(t *testing.T) {
	def, err := statemachine.Render(values())
	if err != nil {
		t.Fatal(err)
	}
	const accounts = 10000
	em := eventModel{items: map[string]int{"ProcessAccounts": accounts, "NotifyOwners": rotate.DefaultMaxNotifications}}
	parent, child := historyEvents(t, def, em)
	t.Logf("worst case at %d accounts: %d events in the execution, %d in the largest child execution", accounts, parent, child)
	if parent >= historyLimit || child >= historyLimit {
		t.Errorf("up to %d history events in the execution and %d in a child, limit %d", parent, child, historyLimit)
	}
	if parent != 66 {
		t.Errorf("the execution's worst case is %d events; the arithmetic in this test's comment says 66 — update both", parent)
	}
	if child != 49 {
		t.Errorf("the largest child execution's worst case is %d events; the comment says 49 — update both", child)
	}
	// The model counts per-item events in the execution when a Map is inline: the checks
	// above would fail for an inline ProcessAccounts or NotifyOwners.
	for _, m := range []string{"ProcessAccounts", "NotifyOwners"} {
		var doc map[string]any
		if err := json.Unmarshal(def, &doc); err != nil {
			t.Fatal(err)
		}
		state := doc["States"].(map[string]any)["ProcessAccounts"].(map[string]any)
		if m == "NotifyOwners" {
			state = state["ItemProcessor"].(map[string]any)["States"].(map[string]any)["NotifyOwners"].(map[string]any)
		}
		config := state["ItemProcessor"].(map[string]any)["ProcessorConfig"].(map[string]any)
		if config["Mode"] != "DISTRIBUTED" {
			t.Errorf("%s is no longer a Distributed Map", m)
			continue
		}
		config["Mode"] = "INLINE"
		inline, _ := json.Marshal(doc)
		if parent, child := historyEvents(t, inline, em); max(parent, child) < historyLimit && m == "ProcessAccounts" {
			t.Errorf("an inline %s gives %d events: the model undercounts", m, parent)
		} else if m == "NotifyOwners" && child < 20+49*rotate.DefaultMaxNotifications {
			t.Errorf("an inline %s gives %d events in an account's execution: the model undercounts", m, child)
		}
	}
}

// TestEveryCaughtFailureReachesSNS: each Catch leads, through Pass states, to an SNS publish
// to the failure topic — except ScanAndRotate's, whose account has no result in S3 and is
// reported failed by CleanupReport, and NotifyUser's, recorded in S3 for CleanupReport
// (RecordNotificationFailure, whose own Catch reaches SNS); CleanupReport tells SNS once for
// all such accounts and owners.
func TestEveryCaughtFailureReachesSNS(t *testing.T) {
	top := renderedMachine(t)
	catches := 0
	var walk func(m *aslMachine)
	walk = func(m *aslMachine) {
		for name, s := range m.States {
			if s.ItemProcessor != nil {
				walk(s.ItemProcessor)
			}
			for _, c := range s.Catch {
				catches++
				if name == "ScanAndRotate" {
					continue
				}
				if name == "NotifyUser" {
					if target := m.States[c.Next]; c.Next != "RecordNotificationFailure" || target.Resource != "arn:aws:states:::aws-sdk:s3:putObject" {
						t.Errorf("the Catch of NotifyUser leads to %s (%s), not to RecordNotificationFailure, an S3 put", c.Next, target.Resource)
					}
					continue
				}
				next := c.Next
				for m.States[next].Type == "Pass" {
					next = m.States[next].Next
				}
				if target := m.States[next]; target.Type != "Task" || target.Resource != "arn:aws:states:::sns:publish" {
					t.Errorf("the Catch of %s leads to %s (%s %s), not to an SNS publish", name, next, target.Type, target.Resource)
				}
			}
		}
	}
	walk(&top)
	if catches != 7 {
		t.Errorf("%d Catch clauses, want 7 (ListAccounts, ProcessAccounts, ScanAndRotate, NotifyOwners, NotifyUser, RecordNotificationFailure, CleanupReport)", catches)
	}
}

// taskRetries are the template's Task states and how each retries: "lambda" retries exactly
// statemachine.LambdaRetriedErrors (and States.Timeout with a TimeoutSeconds), "service" (an
// SNS or S3 integration) retries States.ALL. A Task missing here fails the test.
var taskRetries = map[string]string{
	"ListAccounts":              "lambda",
	"ScanAndRotate":             "lambda",
	"NotifyUser":                "lambda",
	"CleanupReport":             "lambda",
	"RecordNotificationFailure": "service",
	"NotificationFailed":        "service",
	"NotifyOwnersFailed":        "service",
	"PublishFailure":            "service",
}

// TestTaskRetriesMatchTheErrorsOfRealAWS: every Lambda Task retries the errors a Lambda
// meets on real AWS (service exceptions, Lambda.Unknown, Sandbox.Timedout, a crash; States.Timeout
// when it has a TimeoutSeconds) in one retrier, and never InvalidInput, FatalError or
// States.ALL; every service integration retries States.ALL; every Lambda Task catches States.ALL.
func TestTaskRetriesMatchTheErrorsOfRealAWS(t *testing.T) {
	top := renderedMachine(t)
	seen := map[string]bool{}
	var walk func(m *aslMachine)
	walk = func(m *aslMachine) {
		for name, s := range m.States {
			if s.ItemProcessor != nil {
				walk(s.ItemProcessor)
			}
			if s.Type != "Task" {
				continue
			}
			seen[name] = true
			var retried []string
			for _, r := range s.Retry {
				retried = append(retried, r.ErrorEquals...)
			}
			slices.Sort(retried)
			var want []string
			switch kind := taskRetries[name]; kind {
			case "lambda":
				if !strings.HasPrefix(s.Resource, "arn:aws:lambda:") {
					t.Errorf("%s: resource %s is not a Lambda function", name, s.Resource)
				}
				if len(s.Retry) != 1 {
					t.Errorf("%s: %d retriers, want one (its errors share one MaxAttempts)", name, len(s.Retry))
				}
				want = slices.Clone(statemachine.LambdaRetriedErrors)
				if s.TimeoutSeconds != nil {
					want = append(want, statemachine.StatesTimeout)
				}
			case "service":
				if !strings.HasPrefix(s.Resource, "arn:aws:states:::") {
					t.Errorf("%s: resource %s is not a service integration", name, s.Resource)
				}
				want = []string{"States.ALL"}
			default:
				t.Errorf("Task %s (%s) is not in taskRetries: say which errors it retries", name, s.Resource)
				continue
			}
			slices.Sort(want)
			if !slices.Equal(retried, want) {
				t.Errorf("%s retries %v, want %v", name, retried, want)
			}
			if taskRetries[name] == "lambda" && (len(s.Catch) == 0 || !slices.Contains(s.Catch[len(s.Catch)-1].ErrorEquals, "States.ALL")) {
				t.Errorf("%s: its last Catch does not match States.ALL", name)
			}
		}
	}
	walk(&top)
	for name := range taskRetries {
		if !seen[name] {
			t.Errorf("taskRetries lists %s, which is not a Task of the template", name)
		}
	}
}

// TestNotifyFailureRecordMatchesTheReport: the object RecordNotificationFailure writes is
// where CleanupReport looks (workflow.NotifyFailureKey over the Notification's own fields)
// and holds what NotifyUser's Catch caught (workflow.NotifyFailureRecord).
func TestNotifyFailureRecordMatchesTheReport(t *testing.T) {
	def, err := statemachine.Render(values())
	if err != nil {
		t.Fatal(err)
	}
	type task struct {
		Parameters map[string]any
		Catch      []struct{ ResultPath, Next string }
	}
	var asl struct {
		States map[string]struct {
			ItemProcessor struct {
				States map[string]struct {
					ItemProcessor struct{ States map[string]task }
				}
			}
		}
	}
	if err := json.Unmarshal(def, &asl); err != nil {
		t.Fatal(err)
	}
	notify := asl.States["ProcessAccounts"].ItemProcessor.States["NotifyOwners"].ItemProcessor.States
	b, _ := json.Marshal(workflow.Notification{RunID: "{}", Account: workflow.Account{AccountID: "{}"}, UserName: "{}"})
	var fields struct {
		RunID   string `json:"runId"`
		Account struct {
			AccountID string `json:"accountId"`
		} `json:"account"`
		UserName string `json:"userName"`
	}
	if err := json.Unmarshal(b, &fields); err != nil || fields.RunID != "{}" || fields.Account.AccountID != "{}" || fields.UserName != "{}" {
		t.Fatalf("workflow.Notification no longer has runId, account.accountId and userName: %s", b)
	}
	params := notify["RecordNotificationFailure"].Parameters
	wantKey := "States.Format('" + workflow.NotifyFailureKey("{}", "{}", "{}") + "', $.runId, $.account.accountId, $.userName)"
	if params["Key.$"] != wantKey {
		t.Errorf("RecordNotificationFailure writes Key %s, CleanupReport reads %s", params["Key.$"], wantKey)
	}
	if params["Bucket"] != values()[statemachine.ReportBucketName] {
		t.Errorf("RecordNotificationFailure writes to bucket %s, not the report bucket", params["Bucket"])
	}
	catch := notify["NotifyUser"].Catch
	if len(catch) != 1 || catch[0].Next != "RecordNotificationFailure" || params["Body.$"] != "States.JsonToString("+catch[0].ResultPath+")" {
		t.Errorf("RecordNotificationFailure's Body %s is not the caught error of NotifyUser (%+v)", params["Body.$"], catch)
	}
	if rec, _ := json.Marshal(workflow.NotifyFailureRecord{Error: "e", Cause: "c"}); string(rec) != `{"Error":"e","Cause":"c"}` {
		t.Errorf("workflow.NotifyFailureRecord encodes as %s, not as Step Functions' caught error", rec)
	}
}

// TestPartitionFillsEveryServiceARN: the service integrations' ARNs take the deployment's
// partition (infra: AWS::Partition); none is hard-coded to the aws partition.
func TestPartitionFillsEveryServiceARN(t *testing.T) {
	v := values()
	v[statemachine.Partition] = "aws-cn"
	def, err := statemachine.Render(v)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(def), `"arn:aws-cn:states:::`); n == 0 || strings.Contains(string(def), `"arn:aws:states:::`) {
		t.Errorf("rendered for aws-cn: %d arn:aws-cn:states::: resources, and arn:aws:states::: left: %v", n, strings.Contains(string(def), `"arn:aws:states:::`))
	}
}

// renderedMachine renders the definition with the test values and parses it.
func renderedMachine(t *testing.T) aslMachine {
	t.Helper()
	var top aslMachine
	if err := json.Unmarshal(mustRender(t), &top); err != nil {
		t.Fatal(err)
	}
	return top
}

// TestASLErrorNamesAreDeclared: every error name the template's Retry and Catch match is one
// the code declares (workflow.ErrInvalidInput, ErrRetryable, ErrFatal), one of
// LambdaRetriedErrors, or a States.* name of the ASL itself: a name spelled differently in the
// template would match nothing, silently.
func TestASLErrorNamesAreDeclared(t *testing.T) {
	declared := append([]string{workflow.ErrInvalidInput, workflow.ErrRetryable, workflow.ErrFatal, statemachine.StatesTimeout, "States.ALL"},
		statemachine.LambdaRetriedErrors...)
	var def any
	if err := json.Unmarshal(mustRender(t), &def); err != nil {
		t.Fatal(err)
	}
	matched := 0
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for key, child := range v {
				if key != "ErrorEquals" {
					walk(child)
					continue
				}
				for _, name := range child.([]any) {
					matched++
					if !slices.Contains(declared, name.(string)) {
						t.Errorf("the template matches the error %q, which nothing declares", name)
					}
				}
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(def)
	if matched == 0 {
		t.Fatal("found no ErrorEquals: the walk no longer reads the template")
	}
}

// TestAttemptsAreTheRetriersMaxAttemptsPlusOne: the simulation retries each Lambda as often
// as the template does.
func TestAttemptsAreTheRetriersMaxAttemptsPlusOne(t *testing.T) {
	top := renderedMachine(t)
	var check func(m *aslMachine)
	checked := 0
	check = func(m *aslMachine) {
		for name, s := range m.States {
			if s.ItemProcessor != nil {
				check(s.ItemProcessor)
			}
			if taskRetries[name] != "lambda" {
				continue
			}
			checked++
			if got, want := statemachine.Attempts(name), 1+*s.Retry[0].MaxAttempts; got != want {
				t.Errorf("Attempts(%s) = %d, want %d", name, got, want)
			}
		}
	}
	check(&top)
	if checked != 4 {
		t.Errorf("checked %d Lambda Tasks, want 4", checked)
	}
}

func mustRender(t *testing.T) []byte {
	t.Helper()
	def, err := statemachine.Render(values())
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestChatNotificationsOfTheASLAreTheAlertPackages: the failure alerts the state machine
// builds itself (its Catch paths' Pass states) carry the fixed fields of the Chatbot
// notifications pkg/alert builds for the Lambdas' messages: the same version, source, text
// type and keywords, so that a channel's filter on the rotator's keyword sees both.
func TestChatNotificationsOfTheASLAreTheAlertPackages(t *testing.T) {
	var def any
	if err := json.Unmarshal(mustRender(t), &def); err != nil {
		t.Fatal(err)
	}
	want := alert.Chat("title", "description", "event", "run", workflow.Execution{}, nil)
	found := 0
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if k != "chat" {
					walk(path+"."+k, child)
					continue
				}
				found++
				raw, err := json.Marshal(child)
				if err != nil {
					t.Fatal(err)
				}
				var got alert.Notification
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Fatalf("%s.chat: %v", path, err)
				}
				if got.Version != want.Version || got.Source != want.Source || got.Content.TextType != want.Content.TextType ||
					!slices.Equal(got.Content.Keywords, want.Content.Keywords) {
					t.Errorf("%s.chat: version %q, source %q, textType %q, keywords %q; pkg/alert's: %q, %q, %q, %q", path,
						got.Version, got.Source, got.Content.TextType, got.Content.Keywords,
						want.Version, want.Source, want.Content.TextType, want.Content.Keywords)
				}
			}
		case []any:
			for i, child := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), child)
			}
		}
	}
	walk("$", def)
	if found == 0 {
		t.Fatal("no chat notification in the state machine: the failure alerts lost their Chatbot reading")
	}
}
