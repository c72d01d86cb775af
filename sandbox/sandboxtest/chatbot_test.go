package sandboxtest

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	testLink = "https://console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" +
		"arn:aws:states:us-east-1:222222222222:execution:iam-access-key-rotator:run-1"
	// plainFailure is a message as the state machine's PublishFailure published it before
	// the alerts were written for chat.
	plainFailure = "IAM access key rotation failed.\nExecution: arn:aws:states:us-east-1:222222222222:execution:iam-access-key-rotator:run-1\n" +
		"State: ListAccounts\nError: InvalidInput\nCause: accounts: 12345 is not an account ID"
)

// chatMessage is a valid custom notification with edit applied to its decoded form.
func chatMessage(t *testing.T, edit func(n map[string]any)) string {
	t.Helper()
	n := map[string]any{
		"version": "1.0", "source": "custom", "id": "run-1",
		"content": map[string]any{"textType": "client-markdown", "title": "IAM access key rotation failed",
			"description": "The run stopped in ListAccounts: InvalidInput.\nExecution: " + testLink,
			"nextSteps":   []any{"Open the execution"}, "keywords": []any{"iam-access-key-rotator"}},
		"metadata": map[string]any{"threadId": "run-1", "summary": "failed", "eventType": "RotationFailed",
			"relatedResources":  []any{"arn:aws:states:us-east-1:222222222222:execution:iam-access-key-rotator:run-1"},
			"additionalContext": map[string]any{"account": "222222222222", "executionUrl": testLink}},
	}
	if edit != nil {
		edit(n)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func perProtocol(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func content(n map[string]any) map[string]any  { return n["content"].(map[string]any) }
func metadata(n map[string]any) map[string]any { return n["metadata"].(map[string]any) }
func extra(n map[string]any) map[string]any    { return metadata(n)["additionalContext"].(map[string]any) }

// TestCheckAlertHoldsMessagesToTheChatbotSchema: the plain-text messages the rotator
// published before fail; a per-protocol message with email text and a custom notification
// under https passes; each departure from the documented schema or from what the alerts
// promise (title, account, execution link) fails, naming the field.
func TestCheckAlertHoldsMessagesToTheChatbotSchema(t *testing.T) {
	valid := func(edit func(map[string]any)) SNSMessage {
		return SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": plainFailure, "https": chatMessage(t, edit)})}
	}
	for _, tt := range []struct {
		name string
		msg  SNSMessage
		want string // "" for valid; else a part of the error
	}{
		{"valid", valid(nil), ""},
		{"valid with an email key", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{
			"default": plainFailure, "email": plainFailure, "https": chatMessage(t, nil)})}, ""},
		{"minimal schema with the alert's fields", valid(func(n map[string]any) {
			delete(n, "id")
			n["content"] = map[string]any{"title": "t", "description": "d " + testLink}
			n["metadata"] = map[string]any{"additionalContext": map[string]any{"account": "222222222222", "executionUrl": testLink}}
		}), ""},
		{"today's plain text", SNSMessage{Message: plainFailure, Subject: "IAM access key rotation failed"}, "MessageStructure json"},
		{"today's run alert", SNSMessage{Message: "IAM access key rotation run run-1: 1 of 3 accounts failed, 0 owners not notified.\n\nFailed accounts:\n- 333333333333 (orphan) failed: AccessDenied\n"},
			"MessageStructure json"},
		{"structure not JSON", SNSMessage{MessageStructure: "json", Message: plainFailure}, "not a JSON object"},
		{"no default", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"https": chatMessage(t, nil)})}, `no "default"`},
		{"no https", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": plainFailure})}, `no "https"`},
		{"not a protocol", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": plainFailure, "slack": "x", "https": chatMessage(t, nil)})}, `"slack" is not a transport protocol`},
		{"https an object", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": plainFailure, "https": map[string]any{"version": "1.0"}})}, "not a string"},
		{"email text is JSON", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": chatMessage(t, nil), "https": chatMessage(t, nil)})}, "a JSON document, not text"},
		{"empty email text", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": " ", "https": chatMessage(t, nil)})}, "empty"},
		{"https not JSON", SNSMessage{MessageStructure: "json", Message: perProtocol(t, map[string]any{"default": plainFailure, "https": plainFailure})}, "the https message, for Chatbot: not a JSON object"},
		{"version", valid(func(n map[string]any) { n["version"] = "1" }), `version 1, must be "1.0"`},
		{"no version", valid(func(n map[string]any) { delete(n, "version") }), "version is required"},
		{"source", valid(func(n map[string]any) { n["source"] = "aws.states" }), `source aws.states, must be "custom"`},
		{"no content", valid(func(n map[string]any) { delete(n, "content") }), "content is required"},
		{"no description", valid(func(n map[string]any) { delete(content(n), "description") }), "content.description is required"},
		{"textType", valid(func(n map[string]any) { content(n)["textType"] = "plain" }), "only client-markdown"},
		{"unknown field", valid(func(n map[string]any) { content(n)["body"] = "x" }), "content.body is not a field of the schema"},
		{"unknown top field", valid(func(n map[string]any) { n["detail"] = "x" }), "detail is not a field of the schema"},
		{"title a number", valid(func(n map[string]any) { content(n)["title"] = 1 }), "title is a float64"},
		{"keywords a string", valid(func(n map[string]any) { content(n)["keywords"] = "a" }), "keywords is a string, not an array"},
		{"nextSteps item", valid(func(n map[string]any) { content(n)["nextSteps"] = []any{1} }), "nextSteps[0] is a float64"},
		{"relatedResources", valid(func(n map[string]any) { metadata(n)["relatedResources"] = "arn" }), "relatedResources is a string"},
		{"context value", valid(func(n map[string]any) { extra(n)["count"] = 3 }), "additionalContext.count is a float64"},
		{"no title", valid(func(n map[string]any) { delete(content(n), "title") }), "no title"},
		{"no account", valid(func(n map[string]any) { delete(extra(n), "account") }), "account \"\" is not an account ID"},
		{"no link", valid(func(n map[string]any) { delete(extra(n), "executionUrl") }), "executionUrl"},
		{"link not in the description", valid(func(n map[string]any) { content(n)["description"] = "failed" }), "executionUrl"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckAlert(tt.msg)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckAlert: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("CheckAlert: %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

// TestForIsWhatEachProtocolReceives: a subscriber gets its protocol's message, else the
// default; a plain message goes to all alike.
func TestForIsWhatEachProtocolReceives(t *testing.T) {
	m := SNSMessage{MessageStructure: "json", Message: `{"default":"text","https":"{\"version\":\"1.0\"}"}`}
	if got := m.For("email"); got != "text" {
		t.Errorf("email receives %q", got)
	}
	if got := m.For("https"); got != `{"version":"1.0"}` {
		t.Errorf("https receives %q", got)
	}
	if got := (SNSMessage{Message: "plain"}).For("https"); got != "plain" {
		t.Errorf("a plain message reaches https as %q", got)
	}
}
