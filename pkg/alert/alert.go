// Package alert writes the messages CleanupReport publishes on the failure topic so that both
// of its readers get them: people by email, as text, and AWS Chatbot (Amazon Q Developer in
// chat applications), which posts to Slack or Microsoft Teams only the formats it knows — here
// a custom notification ("Custom notifications using Amazon Q Developer in chat applications",
// Event schema). One publish carries both with SNS's per-protocol message structure
// (MessageStructure json): the text as "default", which email and every protocol without a
// key of its own receive, and the notification as "https", the protocol of Chatbot's
// subscriptions. The state machine builds the same shape for its own alerts
// (statemachine/rotation.asl.json, FailureAlert); sandboxtest.CheckAlert holds both to the
// documented schema.
package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// Message is one message of the failure topic.
type Message struct {
	// Subject is the email's subject (SNS: at most 100 characters).
	Subject string
	// Text is what email subscribers read.
	Text string
	// Chat is what Chatbot posts.
	Chat Notification
}

// Notification is a Chatbot custom notification, field for field as documented.
type Notification struct {
	Version  string    `json:"version"` // "1.0"
	Source   string    `json:"source"`  // "custom"
	ID       string    `json:"id,omitempty"`
	Content  Content   `json:"content"`
	Metadata *Metadata `json:"metadata,omitempty"`
}

// Content is what a chat message shows.
type Content struct {
	TextType    string   `json:"textType,omitempty"` // "client-markdown", the only one supported
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// Metadata groups and describes a notification: ThreadID threads a run's messages together
// (when the channel's preferences allow threads).
type Metadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// Keyword tags every notification of the rotator in chat: its name.
const Keyword = statemachine.Name

// Chat is the notification of a run's message: the title, the description (a few lines;
// the execution's console link is appended) and the run, its execution and the account it
// runs in, with context (more string fields) for custom actions and filters.
func Chat(title, description, eventType, runID string, ex workflow.Execution, context map[string]string) Notification {
	if ex.ConsoleURL != "" {
		description = strings.TrimRight(description, "\n") + "\nExecution: " + ex.ConsoleURL
	}
	extra := map[string]string{"runId": runID}
	if ex.Account != "" {
		extra["account"] = ex.Account
	}
	if ex.ConsoleURL != "" {
		extra["executionUrl"] = ex.ConsoleURL
	}
	for k, v := range context {
		extra[k] = v
	}
	n := Notification{Version: "1.0", Source: "custom",
		Content:  Content{TextType: "client-markdown", Title: title, Description: description, Keywords: []string{Keyword}},
		Metadata: &Metadata{ThreadID: runID, Summary: title, EventType: eventType, AdditionalContext: extra}}
	if ex.ARN != "" {
		n.Metadata.RelatedResources = []string{ex.ARN}
	}
	return n
}

// Input is the SNS publish of m to topic: the per-protocol message, default the text, https
// the notification.
func (m Message) Input(topic string) (*sns.PublishInput, error) {
	chat, err := encode(m.Chat)
	if err != nil {
		return nil, fmt.Errorf("encode the chat notification %q: %w", m.Subject, err)
	}
	body, err := encode(map[string]string{"default": m.Text, "https": chat})
	if err != nil {
		return nil, fmt.Errorf("encode the message %q: %w", m.Subject, err)
	}
	return &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String(Subject(m.Subject)),
		MessageStructure: aws.String("json"), Message: aws.String(body)}, nil
}

// SubjectLimit is SNS's: a Subject is ASCII, without line breaks, "less than 100 characters".
const SubjectLimit = 99

// Subject is s as SNS takes a Subject: other characters than printable ASCII replaced by
// "?", cut at SubjectLimit with "...".
func Subject(s string) string {
	b := []byte(strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s))
	if len(b) > SubjectLimit {
		return string(b[:SubjectLimit-3]) + "..."
	}
	return string(b)
}

// encode is JSON without HTML escaping: <, > and & stay themselves (Slack's links use them),
// which also keeps the message small.
func encode(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
