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
	// accountReasons are the reasons SES adds an address to the account-level suppression
	// list for (PutAccountSuppressionAttributes): BOUNCE and COMPLAINT by default, as for
	// every account that started using SES after 2019-11-25.
	accountReasons []sestypes.SuppressionListReason
	// configSets are the configuration sets by name; a set's suppression options, when it
	// has them, override the account's reasons for the mail sent through it.
	configSets map[string]*sestypes.SuppressionOptions
}

func newSESState() sesState {
	return sesState{verified: map[string]bool{}, bouncing: map[string]bool{}, suppressed: map[string]suppression{},
		accountReasons: []sestypes.SuppressionListReason{sestypes.SuppressionListReasonBounce, sestypes.SuppressionListReasonComplaint},
		configSets:     map[string]*sestypes.SuppressionOptions{}}
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
// address on the account's suppression list BounceDelay after the send, when the reasons
// that govern the message include BOUNCE (SetSuppressionReasons); later mail to an address
// suppressed for a reason that governs it is accepted and dropped.
func (w *World) SetBounce(addr string, bounce bool) { w.ses.bouncing[strings.ToLower(addr)] = bounce }

// SetSuppressionReasons sets the reasons SES adds an address to the account-level
// suppression list for (an operator's PutAccountSuppressionAttributes).
func (w *World) SetSuppressionReasons(reasons ...sestypes.SuppressionListReason) {
	w.ses.accountReasons = slices.Clone(reasons)
}

// SetConfigurationSet creates or replaces the configuration set name; with options (nil:
// none) its suppression options override the account's for the mail sent through it.
func (w *World) SetConfigurationSet(name string, options *sestypes.SuppressionOptions) {
	w.ses.configSets[name] = cloneOptions(options)
}

func cloneOptions(o *sestypes.SuppressionOptions) *sestypes.SuppressionOptions {
	if o == nil {
		return nil
	}
	return &sestypes.SuppressionOptions{SuppressedReasons: slices.Clone(o.SuppressedReasons), SuppressionScope: o.SuppressionScope}
}

// reasons are the suppression reasons that govern a message sent through configSet (""
// none): the configuration set's when it overrides the account's (SuppressionOptions),
// else the account's. A configuration set whose scope is TENANT uses a tenant's list: none
// of its mail reaches the account-level list.
func (s *sesState) reasons(configSet string) []sestypes.SuppressionListReason {
	o := s.configSets[configSet]
	switch {
	case configSet == "" || o == nil:
		return s.accountReasons
	case o.SuppressionScope == sestypes.SuppressionListScopeTenant:
		return nil
	}
	return o.SuppressedReasons
}

// Unsuppress removes addr from the account's suppression list (an operator's
// DeleteSuppressedDestination).
func (w *World) Unsuppress(addr string) { delete(w.ses.suppressed, strings.ToLower(addr)) }

// Suppress puts addr on the account's suppression list for BOUNCE now (an operator's
// PutSuppressedDestination).
func (w *World) Suppress(addr string) {
	w.ses.suppressed[strings.ToLower(addr)] = suppression{since: w.now()}
}

// Suppressed reports whether addr is on the account-level suppression list now (mail sent
// through a configuration set whose reasons include the listing's is accepted and dropped).
func (w *World) Suppressed(addr string) bool {
	_, ok := w.ses.suppressedAt(addr, w.now())
	return ok
}

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
		configSet := aws.ToString(in.ConfigurationSetName)
		if _, ok := ses.configSets[configSet]; configSet != "" && !ok {
			return nil, fail(404, &sestypes.NotFoundException{Message: aws.String("Configuration set <" + configSet + "> does not exist.")})
		}
		// Only the reasons that govern the message suppress a listed address, and only they
		// put an address on the list ("Using the Amazon SES account-level suppression list").
		reasons := ses.reasons(configSet)
		now := c.w.now()
		m := Message{MessageID: c.w.messageID(), From: sender.Address, To: to, Raw: slices.Clone(raw), Sent: now}
		for _, r := range to {
			if _, ok := ses.suppressedAt(r, now); ok && slices.Contains(reasons, sestypes.SuppressionListReasonBounce) {
				m.Bounced = append(m.Bounced, r)
				continue
			}
			if ses.bouncing[strings.ToLower(r)] {
				m.Bounced = append(m.Bounced, r)
				if _, listed := ses.suppressed[strings.ToLower(r)]; !listed && slices.Contains(reasons, sestypes.SuppressionListReasonBounce) {
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

// GetAccount returns the account's SES settings: its suppression attributes and its send
// quota (the sandbox's 1 message a second and 200 a day, or production's 14 and 50,000).
func (c *SES) GetAccount(_ context.Context, in *sesv2.GetAccountInput, _ ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return do(c.w, c.call("GetAccount", in), "", func() (*sesv2.GetAccountOutput, error) {
		quota := &sestypes.SendQuota{Max24HourSend: 50000, MaxSendRate: 14}
		if c.w.ses.sandbox {
			quota = &sestypes.SendQuota{Max24HourSend: 200, MaxSendRate: 1}
		}
		return &sesv2.GetAccountOutput{ProductionAccessEnabled: !c.w.ses.sandbox, SendingEnabled: true, SendQuota: quota,
			SuppressionAttributes: &sestypes.SuppressionAttributes{SuppressedReasons: slices.Clone(c.w.ses.accountReasons)}}, nil
	})
}

// PutAccountSuppressionAttributes sets the reasons for the account-level suppression list.
func (c *SES) PutAccountSuppressionAttributes(_ context.Context, in *sesv2.PutAccountSuppressionAttributesInput, _ ...func(*sesv2.Options)) (*sesv2.PutAccountSuppressionAttributesOutput, error) {
	return do(c.w, c.call("PutAccountSuppressionAttributes", in), "", func() (*sesv2.PutAccountSuppressionAttributesOutput, error) {
		c.w.ses.accountReasons = slices.Clone(in.SuppressedReasons)
		return &sesv2.PutAccountSuppressionAttributesOutput{}, nil
	})
}

// GetConfigurationSet returns a configuration set's suppression options (nil when it does
// not override the account's), or NotFoundException.
func (c *SES) GetConfigurationSet(_ context.Context, in *sesv2.GetConfigurationSetInput, _ ...func(*sesv2.Options)) (*sesv2.GetConfigurationSetOutput, error) {
	name := aws.ToString(in.ConfigurationSetName)
	return do(c.w, c.call("GetConfigurationSet", in), name, func() (*sesv2.GetConfigurationSetOutput, error) {
		o, ok := c.w.ses.configSets[name]
		if !ok {
			return nil, fail(404, &sestypes.NotFoundException{Message: aws.String("Configuration set <" + name + "> does not exist.")})
		}
		return &sesv2.GetConfigurationSetOutput{ConfigurationSetName: aws.String(name), SuppressionOptions: cloneOptions(o)}, nil
	})
}
