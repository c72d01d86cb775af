package alert

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// TestSubjectIsOneSNSTakes: SNS refuses a Subject that is not printable ASCII or is 100
// characters or more.
func TestSubjectIsOneSNSTakes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Key rotation: 1 accounts failed", "Key rotation: 1 accounts failed"},
		{"Key rotation: é\n", "Key rotation: ??"},
		{strings.Repeat("a", 120), strings.Repeat("a", 96) + "..."},
	} {
		if got := Subject(tt.in); got != tt.want || len(got) > SubjectLimit {
			t.Errorf("Subject(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestInputIsPerProtocol: the publish carries the text as default and the notification,
// with the execution's account and link, as https.
func TestInputIsPerProtocol(t *testing.T) {
	ex := workflow.Execution{ARN: "arn:aws:states:us-east-1:111122223333:execution:m:run-1", Account: "111122223333", ConsoleURL: "https://c/x<&>"}
	in, err := Message{Subject: "s", Text: "text", Chat: Chat("title", "what happened\n", "RunAlert", "run-1", ex, map[string]string{"n": "1"})}.Input("topic")
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(in.MessageStructure) != "json" || aws.ToString(in.TopicArn) != "topic" {
		t.Errorf("input %+v", in)
	}
	var perProtocol map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &perProtocol); err != nil || perProtocol["default"] != "text" || len(perProtocol) != 2 {
		t.Fatalf("message %s (%v)", aws.ToString(in.Message), err)
	}
	var n Notification
	if err := json.Unmarshal([]byte(perProtocol["https"]), &n); err != nil {
		t.Fatal(err)
	}
	if n.Version != "1.0" || n.Source != "custom" || n.Content.Description != "what happened\nExecution: https://c/x<&>" ||
		n.Metadata.AdditionalContext["account"] != "111122223333" || n.Metadata.AdditionalContext["executionUrl"] != ex.ConsoleURL ||
		n.Metadata.AdditionalContext["n"] != "1" || n.Metadata.ThreadID != "run-1" || n.Metadata.RelatedResources[0] != ex.ARN {
		t.Errorf("notification %+v", n)
	}
	if strings.Contains(aws.ToString(in.Message), `\u003c`) {
		t.Errorf("HTML-escaped: %s", aws.ToString(in.Message))
	}
}
