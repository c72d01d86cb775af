package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"
)

// SESAPI is the SES v2 operation a Sender uses; *sesv2.Client implements it.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Pacer gives each attempt to send its turn under the run's send rate, in messages per
// second, shared by every sender (*sendrate.Slots); it returns when the attempt may go.
type Pacer interface {
	Take(ctx context.Context, rate int) error
}

// SendAttempts bounds the attempts at one message that SES throttles: each takes a turn of
// its own from the Pacer. Beyond them the throttling error is returned (retryable: the state
// machine retries the step, and nothing unsent is recorded).
const SendAttempts = 5

// Sender sends composed messages through SES v2 as raw MIME, each attempt in its turn.
type Sender struct {
	ses              SESAPI
	configurationSet string
	pacer            Pacer
	rate             int
}

// NewSender returns a Sender that sends with ses, under the SES configuration set
// configurationSet (none when empty), each attempt when pacer gives it its turn (nil: at
// once, for tests and the simulation).
func NewSender(ses SESAPI, configurationSet string, pacer Pacer) *Sender {
	return &Sender{ses: ses, configurationSet: configurationSet, pacer: pacer}
}

// At returns a Sender like s that paces its sends at the run's rate (workflow.Run.SendRate).
func (s *Sender) At(rate int) *Sender {
	c := *s
	c.rate = rate
	return &c
}

// Send sends m and returns the message ID SES assigned. A send SES throttles is sent again
// in another turn (the SDK does not retry it, which would bypass the pacing), up to
// SendAttempts; the SDK retries the other transient errors itself.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: m.To},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: m.Raw}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	for attempt := 1; ; attempt++ {
		if s.pacer != nil {
			if err := s.pacer.Take(ctx, s.rate); err != nil {
				return "", fmt.Errorf("send %v: %w", m, err)
			}
		}
		out, err := s.ses.SendEmail(ctx, in, throttlesReturned)
		switch {
		case err == nil:
			return aws.ToString(out.MessageId), nil
		case !throttled(err):
			return "", fmt.Errorf("send %v: %w", m, err)
		case attempt == SendAttempts:
			return "", fmt.Errorf("send %v: throttled %d times: %w", m, attempt, err)
		}
	}
}

// throttled reports SES refusing a send over the account's rate (or its daily quota): the
// codes of SES v2 (TooManyRequestsException) and of SES's documentation (Throttling,
// ThrottlingException, "Maximum sending rate exceeded").
func throttled(err error) bool {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.ErrorCode() {
	case "TooManyRequestsException", "Throttling", "ThrottlingException":
		return true
	}
	return false
}

// throttlesReturned keeps the SDK from retrying a throttled send: Send sends it again in a
// turn of its own.
func throttlesReturned(o *sesv2.Options) {
	if r, ok := o.Retryer.(aws.RetryerV2); ok {
		o.Retryer = notOnThrottling{r}
	}
}

type notOnThrottling struct{ aws.RetryerV2 }

func (r notOnThrottling) IsErrorRetryable(err error) bool {
	return !throttled(err) && r.RetryerV2.IsErrorRetryable(err)
}
