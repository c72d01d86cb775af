package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Deliverer is the NotifyUser step: it sends one owner the emails of one notification.
type Deliverer struct {
	Secrets handoff.Reader
	Sender  *Sender
	From    string
	Log     *slog.Logger
}

// Delivery is NotifyUser's result: what was sent, by SES message ID.
type Delivery struct {
	AccountID  string   `json:"accountId"`
	UserName   string   `json:"userName"`
	MessageIDs []string `json:"messageIds"`
	// AlreadyDelivered is set when the new key's hand-off secret was gone: an earlier attempt
	// delivered it and only its result was lost.
	AlreadyDelivered bool `json:"alreadyDelivered,omitempty"`
}

// Handle sends the new key first (the zip, then its password) and deletes its hand-off
// secret once both emails are out, then one email per other notice. On an error the secret
// stays, so a retry, or the next run, delivers the key again.
func (d *Deliverer) Handle(ctx context.Context, n workflow.Notification) (Delivery, error) {
	out := Delivery{AccountID: n.Account.AccountID, UserName: n.UserName, MessageIDs: []string{}}
	a := Addressing{From: d.From, To: n.Email, AccountID: n.Account.AccountID, AccountName: n.Account.Name, UserName: n.UserName}
	var msgs []Message
	if n.NewKey != nil {
		keyMsgs, err := d.newKeyMails(ctx, a, n)
		var missing *smtypes.ResourceNotFoundException
		switch {
		case errors.As(err, &missing):
			out.AlreadyDelivered = true
			d.Log.WarnContext(ctx, "hand-off secret already gone: key delivered before", "account", a.AccountID,
				"user", n.UserName, "accessKeyId", n.NewKey.AccessKeyID)
		case err != nil:
			return out, err
		default:
			msgs = keyMsgs
		}
	}
	for _, m := range msgs {
		id, err := d.Sender.Send(ctx, m)
		if err != nil {
			return out, err
		}
		out.MessageIDs = append(out.MessageIDs, id)
	}
	if len(msgs) > 0 {
		if err := handoff.Delete(ctx, d.Secrets, n.NewKey.SecretARN); err != nil {
			return out, err
		}
		d.Log.InfoContext(ctx, "new key delivered", "account", a.AccountID, "user", n.UserName, "accessKeyId", n.NewKey.AccessKeyID)
	}
	for _, notice := range n.Notices {
		if notice.Kind == policy.NewKeyIssued {
			continue // told in the new-key email
		}
		m, err := NoticeMail(a, notice)
		if err != nil {
			return out, err
		}
		id, err := d.Sender.Send(ctx, m)
		if err != nil {
			return out, err
		}
		out.MessageIDs = append(out.MessageIDs, id)
		d.Log.InfoContext(ctx, "notice sent", "account", a.AccountID, "user", n.UserName, "kind", notice.Kind, "accessKeyId", notice.AccessKeyID)
	}
	return out, nil
}

// newKeyMails reads the new key from its hand-off secret and composes the zip and password
// emails.
func (d *Deliverer) newKeyMails(ctx context.Context, a Addressing, n workflow.Notification) ([]Message, error) {
	key, err := handoff.Read(ctx, d.Secrets, n.NewKey.SecretARN)
	if err != nil {
		return nil, err
	}
	if key.AccessKeyID != n.NewKey.AccessKeyID {
		return nil, fmt.Errorf("hand-off secret %s holds key %s, the notification names %s", n.NewKey.SecretARN, key.AccessKeyID, n.NewKey.AccessKeyID)
	}
	notice := policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: n.NewKey.ReplacesAccessKeyID, ActBy: n.NewKey.DeactivateOn,
		Message: policy.NewKeyIssuedMessage(n.NewKey.ReplacesAccessKeyID, n.NewKey.DeactivateOn)}
	password := NewPassword()
	zipped, err := CredentialsZip(a.AccountID, a.UserName, key.AccessKeyID, key.SecretAccessKey, password)
	if err != nil {
		return nil, err
	}
	first, err := NewKeyMail(a, key.AccessKeyID, notice, zipped)
	if err != nil {
		return nil, err
	}
	second, err := PasswordMail(a, key.AccessKeyID, password)
	if err != nil {
		return nil, err
	}
	return []Message{first, second}, nil
}
