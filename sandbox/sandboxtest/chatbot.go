package sandboxtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// The failure topic's messages are read by two kinds of subscriber: people by email, and
// AWS Chatbot (Amazon Q Developer in chat applications), which posts them to Slack or
// Microsoft Teams. Chatbot renders only its own event formats: a message it cannot read as
// one is not posted at all. So every message is published with SNS's per-protocol message
// structure (Publish with MessageStructure "json": a JSON object whose "default" string
// every protocol without a key of its own receives), carrying under "https" — the protocol
// of Chatbot's subscriptions (endpoint https://global.sns-api.chatbot.amazonaws.com) — a
// custom notification, and readable text for email.
//
// CheckAlert holds a published message to that, field by field as documented in "Custom
// notifications using Amazon Q Developer in chat applications", Event schema and Parameter
// details (https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html):
//
//	{"version": "1.0" (required), "source": "custom" (required), "id": String,
//	 "content": {"textType": "client-markdown" (the only one supported), "title": String,
//	             "description": String (required), "nextSteps": [String], "keywords": [String]},
//	 "metadata": {"threadId": String, "summary": String, "eventType": String,
//	              "relatedResources": [String], "additionalContext": {String: String}}}
//
// and to what the rotator's alerts promise beyond the schema: a title, a description, the
// account (metadata.additionalContext.account, 12 digits) and the execution's console link
// (in the description, and additionalContext.executionUrl). SNS's rules for the structure
// (Publish, MessageStructure): the message is a JSON object with a "default" string; its
// other keys are transport protocols, each with a string.
func CheckAlert(m SNSMessage) error {
	if m.MessageStructure != "json" {
		return fmt.Errorf("published without MessageStructure json (got %q): Chatbot receives the same plain text as email and cannot render it", m.MessageStructure)
	}
	var perProtocol map[string]any
	if err := json.Unmarshal([]byte(m.Message), &perProtocol); err != nil {
		return fmt.Errorf("MessageStructure json, but the message is not a JSON object: %w", err)
	}
	var errs []error
	strs := map[string]string{}
	for key, v := range perProtocol {
		s, ok := v.(string)
		switch {
		case !slices.Contains(snsProtocolKeys, key):
			errs = append(errs, fmt.Errorf("key %q is not a transport protocol of SNS", key))
		case !ok:
			errs = append(errs, fmt.Errorf("the %q message is a %T, not a string", key, v))
		default:
			strs[key] = s
		}
	}
	text, ok := strs["default"]
	if !ok {
		errs = append(errs, errors.New(`no "default" string: SNS refuses the publish`))
	}
	if email, ok := strs["email"]; ok {
		text = email
	}
	if err := readableText(text); err != nil {
		errs = append(errs, fmt.Errorf("what email subscribers read: %w", err))
	}
	chat, ok := strs["https"]
	if !ok {
		errs = append(errs, errors.New(`no "https" message: Chatbot (an https subscription) receives the email text`))
	} else if err := checkCustomNotification(chat); err != nil {
		errs = append(errs, fmt.Errorf("the https message, for Chatbot: %w", err))
	}
	return errors.Join(errs...)
}

// snsProtocolKeys are the keys of SNS's per-protocol message structure: the default and the
// transport protocols of subscriptions (Subscribe, Protocol) and of mobile platforms.
var snsProtocolKeys = []string{"default", "email", "email-json", "http", "https", "sqs", "lambda", "sms", "firehose", "application",
	"APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX", "MACOS", "MACOS_SANDBOX", "GCM", "ADM", "BAIDU", "MPNS", "WNS"}

// readableText: an email that people read, not a JSON document.
func readableText(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty")
	}
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		if _, isString := v.(string); !isString {
			return fmt.Errorf("a JSON document, not text: %.80s", s)
		}
	}
	return nil
}

var (
	consoleLinkRegex = regexp.MustCompile(`https://[a-z0-9.-]+/states/home\?region=[a-z0-9-]+#/v2/executions/details/arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:execution:\S+`)
)

// checkCustomNotification checks a Chatbot custom notification (see CheckAlert).
func checkCustomNotification(s string) error {
	var n map[string]any
	if err := json.Unmarshal([]byte(s), &n); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	fields(n, "", map[string]bool{"version": true, "source": true, "id": false, "content": true, "metadata": false}, bad)
	if v, ok := n["version"]; ok && v != "1.0" {
		bad("version %v, must be \"1.0\"", v)
	}
	if v, ok := n["source"]; ok && v != "custom" {
		bad("source %v, must be \"custom\"", v)
	}
	str(n, "id", bad)
	content, _ := n["content"].(map[string]any)
	if _, ok := n["content"]; ok && content == nil {
		bad("content is not an object")
	}
	var title, description string
	if content != nil {
		fields(content, "content.", map[string]bool{"textType": false, "title": false, "description": true, "nextSteps": false, "keywords": false}, bad)
		if v, ok := content["textType"]; ok && v != "client-markdown" {
			bad("content.textType %v: only client-markdown is supported", v)
		}
		title, description = str(content, "title", bad), str(content, "description", bad)
		strList(content, "nextSteps", bad)
		strList(content, "keywords", bad)
	}
	metadata, _ := n["metadata"].(map[string]any)
	if _, ok := n["metadata"]; ok && metadata == nil {
		bad("metadata is not an object")
	}
	extra := map[string]string{}
	if metadata != nil {
		fields(metadata, "metadata.", map[string]bool{"threadId": false, "summary": false, "eventType": false, "relatedResources": false, "additionalContext": false}, bad)
		for _, f := range []string{"threadId", "summary", "eventType"} {
			str(metadata, f, bad)
		}
		strList(metadata, "relatedResources", bad)
		if v, ok := metadata["additionalContext"]; ok {
			m, isObject := v.(map[string]any)
			if !isObject {
				bad("metadata.additionalContext is not an object")
			}
			for k, v := range m {
				if s, ok := v.(string); ok {
					extra[k] = s
				} else {
					bad("metadata.additionalContext.%s is a %T, not a string", k, v)
				}
			}
		}
	}
	// What the rotator's alerts promise beyond the schema.
	if strings.TrimSpace(title) == "" {
		bad("no title")
	}
	if strings.TrimSpace(description) == "" {
		bad("no description")
	}
	if !workflow.ValidAccountID(extra["account"]) {
		bad("metadata.additionalContext.account %q is not an account ID", extra["account"])
	}
	if link := extra["executionUrl"]; !consoleLinkRegex.MatchString(link) || !strings.Contains(description, link) {
		bad("metadata.additionalContext.executionUrl %q is not an execution's console link that the description gives", link)
	}
	return errors.Join(errs...)
}

// fields checks that object has every required field (true) and no field the schema does not
// document.
func fields(object map[string]any, prefix string, known map[string]bool, bad func(string, ...any)) {
	for name, required := range known {
		if _, ok := object[name]; required && !ok {
			bad("%s%s is required", prefix, name)
		}
	}
	for name := range object {
		if _, ok := known[name]; !ok {
			bad("%s%s is not a field of the schema", prefix, name)
		}
	}
}

// str returns object's string field name ("" when absent), reporting any other type.
func str(object map[string]any, name string, bad func(string, ...any)) string {
	v, ok := object[name]
	if !ok {
		return ""
	}
	s, isString := v.(string)
	if !isString {
		bad("%s is a %T, not a string", name, v)
	}
	return s
}

// strList checks that object's field name, when present, is an array of strings.
func strList(object map[string]any, name string, bad func(string, ...any)) {
	v, ok := object[name]
	if !ok {
		return
	}
	list, isList := v.([]any)
	if !isList {
		bad("%s is a %T, not an array of strings", name, v)
		return
	}
	for i, item := range list {
		if _, isString := item.(string); !isString {
			bad("%s[%d] is a %T, not a string", name, i, item)
		}
	}
}
