package notify

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"
)

// fakeSES records the requests and answers with err, or with a message ID.
type fakeSES struct {
	inputs []*sesv2.SendEmailInput
	err    error
}

var (
	_ SESAPI = (*fakeSES)(nil)
	_ SESAPI = (*sesv2.Client)(nil)
)

func (f *fakeSES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-ses-message-id")}, nil
}

func TestSenderSends(t *testing.T) {
	m, err := PasswordMail(testAddressing, testNewKeyID, NewPassword())
	if err != nil {
		t.Fatalf("PasswordMail: %v", err)
	}
	tests := []struct {
		name             string
		configurationSet string
		want             *string
	}{
		{"without configuration set", "", nil},
		{"with configuration set", "key-rotator", aws.String("key-rotator")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeSES{}
			id, err := NewSender(fake, tc.configurationSet).Send(t.Context(), m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if id != "0100018c-ses-message-id" {
				t.Errorf("message ID %q, want SES's", id)
			}
			if len(fake.inputs) != 1 {
				t.Fatalf("%d SendEmail calls, want 1", len(fake.inputs))
			}
			in := fake.inputs[0]
			if in.Content == nil || in.Content.Raw == nil || !bytes.Equal(in.Content.Raw.Data, m.Raw) ||
				in.Content.Simple != nil || in.Content.Template != nil {
				t.Errorf("content is not the raw message")
			}
			if aws.ToString(in.FromEmailAddress) != testAddressing.From {
				t.Errorf("FromEmailAddress %q, want %q", aws.ToString(in.FromEmailAddress), testAddressing.From)
			}
			if in.Destination == nil || len(in.Destination.ToAddresses) != 1 || in.Destination.ToAddresses[0] != testAddressing.To ||
				len(in.Destination.CcAddresses)+len(in.Destination.BccAddresses) != 0 {
				t.Errorf("Destination %+v, want To %s only", in.Destination, testAddressing.To)
			}
			if (in.ConfigurationSetName == nil) != (tc.want == nil) || aws.ToString(in.ConfigurationSetName) != aws.ToString(tc.want) {
				t.Errorf("ConfigurationSetName %v, want %v", aws.ToString(in.ConfigurationSetName), aws.ToString(tc.want))
			}
		})
	}
}

func TestSenderWrapsErrors(t *testing.T) {
	zipped, password := testZip(t)
	newKey, err := NewKeyMail(testAddressing, testNewKeyID, newKeyNotice, zipped)
	if err != nil {
		t.Fatalf("NewKeyMail: %v", err)
	}
	passwordMail, err := PasswordMail(testAddressing, testNewKeyID, password)
	if err != nil {
		t.Fatalf("PasswordMail: %v", err)
	}
	throttled := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded."}
	tests := []struct {
		name string
		m    Message
		want string
	}{
		{"new key", newKey, "send new-key email to alice@example.com for AKIANEWKEY7EXAMPLE00 in 111122223333: api error TooManyRequestsException: Maximum sending rate exceeded."},
		{"password", passwordMail, "send password email to alice@example.com for AKIANEWKEY7EXAMPLE00 in 111122223333: api error TooManyRequestsException: Maximum sending rate exceeded."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSender(&fakeSES{err: throttled}, "").Send(t.Context(), tc.m)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "TooManyRequestsException" {
				t.Errorf("err does not wrap the SES error: %v", err)
			}
			for _, s := range []string{testSecretKey, password.Reveal()} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error shows a secret: %v", err)
				}
			}
		})
	}
}
