package notify

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SESAPI is the SES v2 operation a Sender uses; *sesv2.Client implements it.
type SESAPI interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender sends composed messages through SES v2 as raw MIME.
type Sender struct {
	ses              SESAPI
	configurationSet string
}

// NewSender returns a Sender that sends with ses, under the SES configuration set
// configurationSet (none when empty).
func NewSender(ses SESAPI, configurationSet string) *Sender {
	return &Sender{ses: ses, configurationSet: configurationSet}
}

// Send sends m and returns the message ID SES assigned.
func (s *Sender) Send(ctx context.Context, m Message) (string, error) {
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: m.To},
		Content:          &types.EmailContent{Raw: &types.RawMessage{Data: m.Raw}},
	}
	if s.configurationSet != "" {
		in.ConfigurationSetName = aws.String(s.configurationSet)
	}
	out, err := s.ses.SendEmail(ctx, in)
	if err != nil {
		return "", fmt.Errorf("send %v: %w", m, err)
	}
	return aws.ToString(out.MessageId), nil
}
