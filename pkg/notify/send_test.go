package notify

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
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
	m, err := PasswordMail(testAddressing, testNewKeyID, handoff.NewZipPassword())
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
			id, err := NewSender(fake, tc.configurationSet, nil).Send(t.Context(), m)
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
		{"new key", newKey, "send new-key email to alice@example.com for AKIANEWKEY7EXAMPLE00 in 111122223333: throttled 5 times: api error TooManyRequestsException: Maximum sending rate exceeded."},
		{"password", passwordMail, "send password email to alice@example.com for AKIANEWKEY7EXAMPLE00 in 111122223333: throttled 5 times: api error TooManyRequestsException: Maximum sending rate exceeded."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSender(&fakeSES{err: throttled}, "", nil).Send(t.Context(), tc.m)
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

// scriptedSES answers SendEmail with its errors in turn, then with message IDs.
type scriptedSES struct {
	errs  []error
	calls int
}

func (s *scriptedSES) SendEmail(context.Context, *sesv2.SendEmailInput, ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	s.calls++
	if len(s.errs) > 0 {
		err := s.errs[0]
		s.errs = s.errs[1:]
		return nil, err
	}
	return &sesv2.SendEmailOutput{MessageId: aws.String("0100018c-ses-message-id")}, nil
}

// turns records the turns asked of it, at which rate, and refuses after limit (0: never).
type turns struct {
	rates []int
	limit int
}

func (p *turns) Take(_ context.Context, rate int) error {
	if p.limit > 0 && len(p.rates) == p.limit {
		return &workflow.RetryableError{Err: errors.New("no SES send slot before the deadline")}
	}
	p.rates = append(p.rates, rate)
	return nil
}

// TestSenderPacesEveryAttempt: each attempt to send waits for its turn at the run's rate; a
// throttled send is sent again in a turn of its own, up to SendAttempts, never dropped
// silently; a send without a turn is not made.
func TestSenderPacesEveryAttempt(t *testing.T) {
	m, err := PasswordMail(testAddressing, testNewKeyID, handoff.NewZipPassword())
	if err != nil {
		t.Fatal(err)
	}
	throttle := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Maximum sending rate exceeded."}
	rejected := &smithy.GenericAPIError{Code: "MessageRejected", Message: "Email address is not verified."}
	tests := []struct {
		name      string
		errs      []error
		limit     int
		wantCalls int
		wantTurns int
		wantErr   string
	}{
		{name: "sent in its turn", wantCalls: 1, wantTurns: 1},
		{name: "throttled twice, then sent", errs: []error{throttle, throttle}, wantCalls: 3, wantTurns: 3},
		{name: "throttled every time", errs: []error{throttle, throttle, throttle, throttle, throttle, throttle}, wantCalls: SendAttempts, wantTurns: SendAttempts,
			wantErr: "throttled 5 times"},
		{name: "refused: not sent again", errs: []error{rejected}, wantCalls: 1, wantTurns: 1, wantErr: "MessageRejected"},
		{name: "no turn left: not sent", limit: 1, errs: []error{throttle}, wantCalls: 1, wantTurns: 1, wantErr: "deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ses, pacer := &scriptedSES{errs: tt.errs}, &turns{limit: tt.limit}
			id, err := NewSender(ses, "", pacer).At(7).Send(t.Context(), m)
			if ses.calls != tt.wantCalls || len(pacer.rates) != tt.wantTurns || (err == nil) != (tt.wantErr == "") ||
				(err != nil && !strings.Contains(err.Error(), tt.wantErr)) || (err == nil && id == "") {
				t.Errorf("%d sends in %d turns, id %q, error %v; want %d sends in %d turns, error containing %q",
					ses.calls, len(pacer.rates), id, err, tt.wantCalls, tt.wantTurns, tt.wantErr)
			}
			for _, r := range pacer.rates {
				if r != 7 {
					t.Errorf("a turn at rate %d, want the run's 7", r)
				}
			}
			if err != nil && tt.wantErr != "MessageRejected" && !workflow.IsRetryable(err) {
				t.Errorf("error %v is not retryable: the notification would not be sent again", err)
			}
		})
	}
}

// TestSDKLeavesThrottledSendsToTheSender: against an SES endpoint that always throttles, each
// of the Sender's attempts is one request (the SDK's retryer would otherwise make several,
// outside the pacing), while a 5xx is still retried by the SDK.
func TestSDKLeavesThrottledSendsToTheSender(t *testing.T) {
	m, err := PasswordMail(testAddressing, testNewKeyID, handoff.NewZipPassword())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name         string
		status       int
		code         string
		wantRequests int
	}{
		{"throttled: one request per attempt", http.StatusTooManyRequests, "TooManyRequestsException", SendAttempts},
		{"5xx: the SDK retries", http.StatusInternalServerError, "InternalFailure", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var requests atomic.Int32
			ses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				requests.Add(1)
				w.Header().Set("x-amzn-ErrorType", tt.code)
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"message":"no"}`))
			}))
			defer ses.Close()
			client := sesv2.New(sesv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(ses.URL),
				Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", ""),
				Retryer: retry.NewStandard(func(so *retry.StandardOptions) {
					so.MaxAttempts, so.Backoff = 3, retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
				})})
			_, err := NewSender(client, "", &turns{}).Send(t.Context(), m)
			if err == nil || !strings.Contains(err.Error(), tt.code) || int(requests.Load()) != tt.wantRequests {
				t.Errorf("%d requests, error %v; want %d requests and %s", requests.Load(), err, tt.wantRequests, tt.code)
			}
		})
	}
}
