package sandboxtest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// User is an IAM user as the stand-in holds it now.
type User struct {
	Name string
	Tags map[string]string
	Keys []Key
}

// Key is an access key's metadata; never its secret.
type Key struct {
	AccessKeyID  string
	Status       string
	CreateDate   time.Time
	LastUsedDate *time.Time // nil: never used
	// LastUsedService and LastUsedRegion are GetAccessKeyLastUsed's ServiceName and Region:
	// "N/A" for a key never used.
	LastUsedService, LastUsedRegion string
}

// Users lists the users of the account named account, with tags and keys, through the
// administrator (AccountConfig); sorted by name.
func (sb *Sandbox) Users(ctx context.Context, account string) ([]User, error) {
	client, err := sb.IAM(account)
	if err != nil {
		return nil, err
	}
	var users []User
	pages := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list users in %s: %w", account, err)
		}
		for _, u := range page.Users {
			user, err := readUser(ctx, client, account, aws.ToString(u.UserName))
			if err != nil {
				return nil, err
			}
			users = append(users, user)
		}
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Name < users[j].Name })
	return users, nil
}

func readUser(ctx context.Context, client *iam.Client, account, name string) (User, error) {
	user := User{Name: name, Tags: map[string]string{}}
	tags, err := client.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: aws.String(name)})
	if err != nil {
		return user, fmt.Errorf("list tags of %s in %s: %w", name, account, err)
	}
	for _, t := range tags.Tags {
		user.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(name)})
	if err != nil {
		return user, fmt.Errorf("list access keys of %s in %s: %w", name, account, err)
	}
	for _, k := range keys.AccessKeyMetadata {
		key := Key{AccessKeyID: aws.ToString(k.AccessKeyId), Status: string(k.Status), CreateDate: aws.ToTime(k.CreateDate)}
		used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k.AccessKeyId})
		if err != nil {
			return user, fmt.Errorf("get last use of %s of %s in %s: %w", key.AccessKeyID, name, account, err)
		}
		if u := used.AccessKeyLastUsed; u != nil {
			key.LastUsedDate, key.LastUsedService, key.LastUsedRegion = u.LastUsedDate, aws.ToString(u.ServiceName), aws.ToString(u.Region)
		}
		user.Keys = append(user.Keys, key)
	}
	return user, nil
}

// Email is a message SES accepted, in the order sent. For a raw message (SESv2 Content.Raw,
// SES SendRawEmail) Raw holds the whole MIME text and the other fields are parsed from
// it; for a simple one Raw is empty.
type Email struct {
	ID     string
	Source string
	// Destinations are the recipients, each once.
	Destinations []string
	Raw          string
	Header       mail.Header
	Subject      string
	// Text is the first text/plain part (or the simple message's body), decoded.
	Text string
	// HTML is the first text/html part, decoded.
	HTML        string
	Attachments []Attachment
	// Inline are the parts the HTML shows (Content-Disposition inline with a Content-ID, shown by cid:ContentID):
	// the support email's charts. They are not in Attachments.
	Inline []Attachment
	// Sent is when SES received it (the stand-in stamps each raw message it accepts).
	Sent time.Time
}

// Attachment is a MIME part with a file name (or a non-text part), decoded.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
	ContentID   string // without its angle brackets; set on an inline part
}

// rawMessage and simpleMessage are the attributes of SES's messages read here, as moto
// keeps them (its models ses.RawMessage and ses.Message).
type rawMessage struct {
	ID           string    `json:"id"`
	Source       string    `json:"source"`
	Destinations []string  `json:"destinations"`
	RawData      string    `json:"raw_data"`
	SentAt       time.Time `json:"sent_at"`
}

type simpleMessage struct {
	ID           string              `json:"id"`
	Source       string              `json:"source"`
	Subject      string              `json:"subject"`
	Body         string              `json:"body"`
	Destinations map[string][]string `json:"destinations"`
}

// SentEmails returns every email SES accepted in any account, raw ones parsed. Raw
// messages come first, then simple ones, each in the order sent. Both are read from the
// stand-in a page at a time (sandbox.SESMessages, sandbox.ModelInstances), however much
// mail it holds.
func (sb *Sandbox) SentEmails(ctx context.Context) ([]Email, error) {
	var emails []Email
	for from := 0; ; {
		p, err := sandbox.SESMessages[rawMessage](ctx, sb.URL, from, sandbox.SESPageMessages)
		if err != nil {
			return nil, err
		}
		for _, m := range p.Messages {
			e, err := ParseEmail(m.RawData)
			if err != nil {
				return nil, fmt.Errorf("SES message %s from %s: %w", m.ID, m.Source, err)
			}
			e.ID, e.Source, e.Destinations, e.Sent = m.ID, m.Source, sandbox.UniqueAddresses(m.Destinations), m.SentAt
			emails = append(emails, e)
		}
		if from = p.Next; from >= p.Total {
			break
		}
	}
	simple, err := sandbox.ModelInstances[simpleMessage](ctx, sb.URL, "ses", "Message")
	if err != nil {
		return nil, err
	}
	for _, m := range simple {
		var to []string
		for _, kind := range []string{"ToAddresses", "CcAddresses", "BccAddresses"} {
			to = append(to, m.Destinations[kind]...)
		}
		emails = append(emails, Email{ID: m.ID, Source: m.Source, Destinations: to, Subject: m.Subject, Text: m.Body})
	}
	return emails, nil
}

// ParseEmail parses a raw MIME message: headers, subject, first text and HTML parts,
// and attachments, with transfer encodings undone.
func ParseEmail(raw string) (Email, error) {
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		return Email{}, fmt.Errorf("parse MIME message: %w", err)
	}
	e := Email{Raw: raw, Header: msg.Header}
	dec := new(mime.WordDecoder)
	if e.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return e, fmt.Errorf("parse Subject: %w", err)
	}
	err = walkPart(&e, partHeader(msg.Header), msg.Body)
	return e, err
}

type partHeader map[string][]string

func (h partHeader) get(key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func walkPart(e *Email, h partHeader, body io.Reader) error {
	ctype := h.get("Content-Type")
	if ctype == "" {
		ctype = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("parse Content-Type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read %s part: %w", mediaType, err)
			}
			if err := walkPart(e, partHeader(p.Header), p); err != nil {
				return err
			}
		}
	}
	data, err := decodeBody(h.get("Content-Transfer-Encoding"), body)
	if err != nil {
		return fmt.Errorf("decode %s part: %w", mediaType, err)
	}
	filename, inline := "", false
	if disp := h.get("Content-Disposition"); disp != "" {
		if d, dp, err := mime.ParseMediaType(disp); err == nil {
			filename, inline = dp["filename"], d == "inline"
		}
	}
	if filename == "" {
		filename = params["name"]
	}
	switch {
	case filename == "" && mediaType == "text/plain" && e.Text == "":
		e.Text = string(data)
	case filename == "" && mediaType == "text/html" && e.HTML == "":
		e.HTML = string(data)
	case inline && h.get("Content-Id") != "":
		e.Inline = append(e.Inline, Attachment{Filename: filename, ContentType: mediaType, Data: data,
			ContentID: strings.Trim(strings.TrimSpace(h.get("Content-Id")), "<>")})
	default:
		e.Attachments = append(e.Attachments, Attachment{Filename: filename, ContentType: mediaType, Data: data})
	}
	return nil
}

func decodeBody(encoding string, body io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "base64":
		// MIME base64 is split into lines; the decoder wants them joined.
		raw, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, raw)
		return base64.StdEncoding.DecodeString(string(clean))
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(body))
	default:
		return io.ReadAll(body)
	}
}

// SNSMessage is a message published to an SNS topic.
type SNSMessage struct {
	TopicARN  string
	MessageID string
	Message   string
	Subject   string
	// MessageStructure is the publish's: "json" for a per-protocol message (Message is then
	// a JSON object of one message per protocol), else empty.
	MessageStructure string
}

// For returns what a subscriber of the protocol (email, https, ...) receives: the message,
// or with MessageStructure json the protocol's own message, else its "default" (SNS's rule);
// "" when the message does not parse.
func (m SNSMessage) For(protocol string) string {
	if m.MessageStructure != "json" {
		return m.Message
	}
	var perProtocol map[string]any
	if json.Unmarshal([]byte(m.Message), &perProtocol) != nil {
		return ""
	}
	if s, ok := perProtocol[protocol].(string); ok {
		return s
	}
	s, _ := perProtocol["default"].(string)
	return s
}

// SNSMessages returns every message published to any topic, per topic in the order sent.
func (sb *Sandbox) SNSMessages(ctx context.Context) ([]SNSMessage, error) {
	type topic struct {
		ARN               string            `json:"arn"`
		SentNotifications []json.RawMessage `json:"sent_notifications"`
	}
	topics, err := sandbox.ModelInstances[topic](ctx, sb.URL, "sns", "Topic")
	if err != nil {
		return nil, err
	}
	var out []SNSMessage
	for _, t := range topics {
		for _, raw := range t.SentNotifications {
			// moto keeps (message_id, message, subject, message_attributes, group_id), and
			// the stand-in adds message_structure (moto_server.py, sns_message_structure_as_aws).
			var fields []json.RawMessage
			if err := json.Unmarshal(raw, &fields); err != nil || len(fields) < 3 {
				return nil, fmt.Errorf("SNS notification of %s: unexpected shape %s", t.ARN, raw)
			}
			var m SNSMessage
			m.TopicARN = t.ARN
			if err := errors.Join(json.Unmarshal(fields[0], &m.MessageID), json.Unmarshal(fields[1], &m.Message),
				json.Unmarshal(fields[2], &m.Subject)); err != nil {
				return nil, fmt.Errorf("SNS notification of %s: %w", t.ARN, err)
			}
			if len(fields) > 5 && string(fields[5]) != "null" {
				if err := json.Unmarshal(fields[5], &m.MessageStructure); err != nil {
					return nil, fmt.Errorf("SNS notification of %s: %w", t.ARN, err)
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// AssumedRole is one STS AssumeRole call the stand-in answered.
type AssumedRole struct {
	AccountID   string
	RoleARN     string
	SessionName string
}

// AssumedRoles returns every AssumeRole call answered so far, in order, including the
// seeder's and this package's own (session name sandbox.SessionName): for example to
// prove that nothing assumed a role in an excluded account.
func (sb *Sandbox) AssumedRoles(ctx context.Context) ([]AssumedRole, error) {
	type assumed struct {
		AccountID   string `json:"account_id"`
		RoleARN     string `json:"role_arn"`
		SessionName string `json:"session_name"`
	}
	roles, err := sandbox.ModelInstances[assumed](ctx, sb.URL, "sts", "AssumedRole")
	if err != nil {
		return nil, err
	}
	out := make([]AssumedRole, 0, len(roles))
	for _, r := range roles {
		out = append(out, AssumedRole(r))
	}
	return out, nil
}

// S3Object is one object of a bucket with its content.
type S3Object struct {
	Key  string
	Body []byte
}

// S3Objects returns every object of bucket (management account) with its content,
// sorted by key.
func (sb *Sandbox) S3Objects(ctx context.Context, bucket string) ([]S3Object, error) {
	client := sb.S3()
	var out []S3Object
	pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list objects of s3://%s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
			}
			body, err := io.ReadAll(got.Body)
			got.Body.Close()
			if err != nil {
				return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
			}
			out = append(out, S3Object{Key: key, Body: body})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}
