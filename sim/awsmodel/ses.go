package awsmodel

import (
	"bytes"
	"context"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// maxRecipients is SES's limit of recipients per message.
const maxRecipients = 50

type sesState struct {
	// Sandbox: only verified identities may receive (and, always, send).
	sandbox    bool
	verified   map[string]bool // addresses and domains, lower case
	bouncing   map[string]bool
	suppressed map[string]suppression
	messages   []Message
}

func newSESState() sesState {
	return sesState{verified: map[string]bool{}, bouncing: map[string]bool{}, suppressed: map[string]suppression{}}
}

type suppression struct {
	since     time.Time
	messageID string
}

// Message is one message SES accepted.
type Message struct {
	MessageID string
	From      string
	To        []string // envelope recipients
	Raw       []byte
	Sent      time.Time
	// Bounced lists the recipients the message did not reach: bouncing or suppressed
	// addresses. SES accepted the message all the same.
	Bounced []string
}

// SetSandbox puts the account's SES in or out of the sandbox, where only verified
// addresses receive mail.
func (w *World) SetSandbox(on bool) { w.ses.sandbox = on }

// VerifySES verifies an email address or a domain identity. A sender must always be
// verified (by address or domain); in the sandbox, every recipient too.
func (w *World) VerifySES(identity string) { w.ses.verified[strings.ToLower(identity)] = true }

// SetBounce makes mail to addr bounce (true) or be delivered (false). A bounce puts the
// address on the account's suppression list BounceDelay after the send; later mail to a
// suppressed address is accepted and dropped.
func (w *World) SetBounce(addr string, bounce bool) { w.ses.bouncing[strings.ToLower(addr)] = bounce }

// Unsuppress removes addr from the account's suppression list (an operator's
// DeleteSuppressedDestination).
func (w *World) Unsuppress(addr string) { delete(w.ses.suppressed, strings.ToLower(addr)) }

// Messages returns every message SES accepted, in order.
func (w *World) Messages() []Message { return slices.Clone(w.ses.messages) }

// Delivered returns the messages that reached addr.
func (w *World) Delivered(addr string) []Message {
	return w.messagesTo(addr, false)
}

// Bounced returns the messages to addr that SES accepted but could not deliver.
func (w *World) Bounced(addr string) []Message {
	return w.messagesTo(addr, true)
}

func (w *World) messagesTo(addr string, bounced bool) []Message {
	var out []Message
	for _, m := range w.ses.messages {
		sent := slices.ContainsFunc(m.To, func(a string) bool { return strings.EqualFold(a, addr) })
		lost := slices.ContainsFunc(m.Bounced, func(a string) bool { return strings.EqualFold(a, addr) })
		if sent && lost == bounced {
			out = append(out, m)
		}
	}
	return out
}

func (s *sesState) isVerified(addr string) bool {
	addr = strings.ToLower(addr)
	_, domain, _ := strings.Cut(addr, "@")
	return s.verified[addr] || s.verified[domain]
}

// suppressedAt reports whether addr is on the suppression list at now.
func (s *sesState) suppressedAt(addr string, now time.Time) (suppression, bool) {
	e, ok := s.suppressed[strings.ToLower(addr)]
	return e, ok && !now.Before(e.since)
}

// SES is an SES v2 client of the rotator's account.
type SES struct{ w *World }

// SES returns an SES v2 client.
func (w *World) SES() *SES { return &SES{w: w} }

func (c *SES) call(op string, in any) Call {
	return Call{Service: serviceSES, Operation: op, Account: c.w.SecretsAccount, Input: in}
}

func messageRejected(msg string) error {
	return fail(400, &sestypes.MessageRejected{Message: aws.String(msg)})
}

func badRequest(msg string) error {
	return fail(400, &sestypes.BadRequestException{Message: aws.String(msg)})
}

// SendEmail accepts a raw message. The recipients are Destination's addresses, or the
// To, Cc and Bcc headers when Destination is empty; the sender is FromEmailAddress or the
// From header. The sender must be verified, and in the sandbox every recipient too
// (MessageRejected). Accepted is not delivered: mail to a bouncing or suppressed address
// is dropped.
func (c *SES) SendEmail(_ context.Context, in *sesv2.SendEmailInput, _ ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	subject := ""
	if in.Destination != nil {
		subject = strings.Join(in.Destination.ToAddresses, ",")
	}
	return do(c.w, c.call("SendEmail", in), subject, func() (*sesv2.SendEmailOutput, error) {
		if in.Content == nil || in.Content.Raw == nil {
			return nil, badRequest("The model supports raw content only.")
		}
		raw := in.Content.Raw.Data
		msg, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return nil, badRequest("Illegal content: " + err.Error())
		}
		from := aws.ToString(in.FromEmailAddress)
		if from == "" {
			from = msg.Header.Get("From")
		}
		sender, err := mail.ParseAddress(from)
		if err != nil {
			return nil, badRequest("Missing or invalid sender address.")
		}
		to, err := recipients(in.Destination, msg.Header)
		if err != nil {
			return nil, err
		}
		ses := &c.w.ses
		if !ses.isVerified(sender.Address) {
			return nil, messageRejected("Email address is not verified. The following identities failed the check in region " +
				strings.ToUpper(c.w.Region) + ": " + sender.Address)
		}
		if ses.sandbox {
			for _, r := range to {
				if !ses.isVerified(r) {
					return nil, messageRejected("Email address is not verified. The following identities failed the check in region " +
						strings.ToUpper(c.w.Region) + ": " + r)
				}
			}
		}
		now := c.w.now()
		m := Message{MessageID: c.w.messageID(), From: sender.Address, To: to, Raw: slices.Clone(raw), Sent: now}
		for _, r := range to {
			if _, ok := ses.suppressedAt(r, now); ok {
				m.Bounced = append(m.Bounced, r)
				continue
			}
			if ses.bouncing[strings.ToLower(r)] {
				m.Bounced = append(m.Bounced, r)
				if _, listed := ses.suppressed[strings.ToLower(r)]; !listed {
					ses.suppressed[strings.ToLower(r)] = suppression{since: now.Add(c.w.BounceDelay), messageID: m.MessageID}
				}
			}
		}
		ses.messages = append(ses.messages, m)
		return &sesv2.SendEmailOutput{MessageId: aws.String(m.MessageID)}, nil
	})
}

// recipients are the envelope recipients: Destination's, else the message's headers.
func recipients(dest *sestypes.Destination, h mail.Header) ([]string, error) {
	var addrs []string
	if dest != nil {
		addrs = slices.Concat(dest.ToAddresses, dest.CcAddresses, dest.BccAddresses)
	}
	var to []string
	if len(addrs) > 0 {
		for _, a := range addrs {
			p, err := mail.ParseAddress(a)
			if err != nil {
				return nil, badRequest("Invalid recipient address: " + a)
			}
			to = append(to, p.Address)
		}
	} else {
		for _, field := range []string{"To", "Cc", "Bcc"} {
			if h.Get(field) == "" {
				continue
			}
			list, err := h.AddressList(field)
			if err != nil {
				return nil, badRequest("Invalid " + field + " header: " + err.Error())
			}
			for _, p := range list {
				to = append(to, p.Address)
			}
		}
	}
	switch {
	case len(to) == 0:
		return nil, badRequest("Missing final '@domain'")
	case len(to) > maxRecipients:
		return nil, messageRejected("Recipient count exceeds 50.")
	}
	return to, nil
}

func (w *World) messageID() string {
	const hex = "0123456789abcdef"
	return "0100" + w.randomString(hex, 12) + "-" + w.randomString(hex, 8) + "-" + w.randomString(hex, 4) + "-" +
		w.randomString(hex, 4) + "-" + w.randomString(hex, 4) + "-" + w.randomString(hex, 12) + "-000000"
}

// GetSuppressedDestination reports why an address is on the suppression list
// (NotFoundException when it is not).
func (c *SES) GetSuppressedDestination(_ context.Context, in *sesv2.GetSuppressedDestinationInput, _ ...func(*sesv2.Options)) (*sesv2.GetSuppressedDestinationOutput, error) {
	return do(c.w, c.call("GetSuppressedDestination", in), aws.ToString(in.EmailAddress), func() (*sesv2.GetSuppressedDestinationOutput, error) {
		addr := aws.ToString(in.EmailAddress)
		e, ok := c.w.ses.suppressedAt(addr, c.w.now())
		if !ok {
			return nil, fail(404, &sestypes.NotFoundException{Message: aws.String("Email address " + addr + " does not exist on your suppression list.")})
		}
		return &sesv2.GetSuppressedDestinationOutput{SuppressedDestination: &sestypes.SuppressedDestination{
			EmailAddress: aws.String(strings.ToLower(addr)), Reason: sestypes.SuppressionListReasonBounce,
			LastUpdateTime: aws.Time(e.since), Attributes: &sestypes.SuppressedDestinationAttributes{MessageId: aws.String(e.messageID)},
		}}, nil
	})
}
