package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// alertChains are the state machine's SNS publishes that the suite's runs seldom reach (the
// report bucket unreadable, a notification's failure unrecordable), each with the states that
// lead to it from its Catch and the input the Catch gives them.
var alertChains = []struct {
	publish string
	chain   []string // from the Catch's target to the publish
	input   string
}{
	{"PublishFailure", []string{"FailureAlert", "FailureMessage", "PublishFailure"},
		`{"state": "ListAccounts", "failure": {"Error": "InvalidInput", "Cause": "accounts: \"12345\" is not an account ID {'quoted'}"}}`},
	{"NotifyOwnersFailed", []string{"NotifyOwnersFailedAlert", "NotifyOwnersFailedMessage", "NotifyOwnersFailed"},
		`{"account": {"accountId": "444455556666", "name": "prod"}, "status": "done", "notificationsKey": "runs/run-1/notifications/444455556666.json",
		  "notificationCount": 2, "failure": {"Error": "States.ItemReaderFailed", "Cause": "Access Denied"}}`},
	{"NotificationFailed", []string{"NotificationFailedAlert", "NotificationFailedMessage", "NotificationFailed"},
		`{"runId": "run-1", "account": {"accountId": "444455556666", "name": "prod"}, "userName": "alice", "email": "alice@example.com",
		  "failure": {"Error": "FatalError", "Cause": "send: MessageRejected"}, "recordFailure": {"Error": "S3.AccessDenied", "Cause": "denied"}}`},
}

// TestE2EEveryAlertOfTheStateMachineReadsInChat runs each SNS publish of the state machine,
// with the Pass states that build its message, on the local runner (aws-local-stepfunctions,
// the stand-in of Step Functions) against the stand-in's topic: every one is published as a
// per-protocol message that Chatbot renders and email reads (checkAlerts), and the email
// still says what the message said before it was written for chat. The states are taken
// from the template as they are, their placeholders filled in by the runner.
func TestE2EEveryAlertOfTheStateMachineReadsInChat(t *testing.T) {
	t.Parallel()
	o := start(t, demoScenario)
	states := templateStates(t)
	var published []string
	for _, c := range alertChains {
		t.Run(c.publish, func(t *testing.T) {
			def := map[string]any{"StartAt": "Caught", "States": map[string]any{
				"Caught": map[string]any{"Type": "Pass", "Result": json.RawMessage(c.input), "Next": c.chain[0]}}}
			for _, name := range c.chain {
				s, ok := states[name]
				if !ok {
					t.Fatalf("the template has no state %s", name)
				}
				def["States"].(map[string]any)[name] = s
			}
			last := def["States"].(map[string]any)[c.publish].(map[string]any)
			delete(last, "Next") // PublishFailure goes on to RotationFailed, which fails the execution
			last["End"] = true
			b, err := json.Marshal(def)
			if err != nil {
				t.Fatal(err)
			}
			ex := runAudited(t, runner.Options{Endpoint: o.sb.URL, Input: json.RawMessage(`{}`), Settings: o.settings, BinDir: binDir, Definition: b})
			mustSucceed(t, ex)
			msgs := o.snsMessages(t)
			if len(msgs) != len(published)+1 {
				t.Fatalf("%d SNS messages after %s, want %d", len(msgs), c.publish, len(published)+1)
			}
			m := msgs[len(msgs)-1]
			published = append(published, m.Subject)
			text := m.For("email")
			var in map[string]any
			_ = json.Unmarshal([]byte(c.input), &in)
			for _, want := range []string{ex.ARN, "Error: " + in["failure"].(map[string]any)["Error"].(string), "Cause: " + in["failure"].(map[string]any)["Cause"].(string)} {
				if !strings.Contains(text, want) {
					t.Errorf("the email of %s does not say %q:\n%s", c.publish, want, text)
				}
			}
		})
	}
	if len(published) != len(alertChains) {
		t.Errorf("published %q, want one message per publish of the state machine", published)
	}
}

// templateStates returns every state of the template, Map children included, by name, as
// JSON values: the placeholders in number position are filled in with 1 to parse it, the
// others stay for the runner to fill in.
func templateStates(t *testing.T) map[string]any {
	t.Helper()
	tpl := string(statemachine.Template)
	for _, name := range statemachine.NumberPlaceholders {
		tpl = strings.ReplaceAll(tpl, "${"+name+"}", strconv.Itoa(1))
	}
	var def map[string]any
	if err := json.Unmarshal([]byte(tpl), &def); err != nil {
		t.Fatal(fmt.Errorf("parse the template: %w", err))
	}
	out := map[string]any{}
	var walk func(states map[string]any)
	walk = func(states map[string]any) {
		for name, s := range states {
			out[name] = s
			if p, ok := s.(map[string]any)["ItemProcessor"].(map[string]any); ok {
				walk(p["States"].(map[string]any))
			}
		}
	}
	walk(def["States"].(map[string]any))
	return out
}
