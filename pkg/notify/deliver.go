package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/keyrotator/iam-access-key-rotator/pkg/advice"
	"github.com/keyrotator/iam-access-key-rotator/pkg/appsecret"
	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/handoff"
	"github.com/keyrotator/iam-access-key-rotator/pkg/history"
	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Handler is the NotifyUser step: it sends one owner the emails of one notification and
// records in the owner's IAM user what was sent, so that the notices an action must wait
// for count only once they went out.
type Handler struct {
	Secrets handoff.Reader
	Sender  *Sender
	From    string
	// History returns the member account's IAM, where delivered notices are recorded.
	History func(accountID string) history.TagAPI
	// AppSecrets returns the member account's Secrets Manager, where the keys of users who
	// ask for delivery to a secret go (pkg/appsecret).
	AppSecrets func(accountID string) appsecret.API
	// AppParams returns the member account's SSM, where the keys of users who ask for
	// delivery to a SecureString parameter go (nil: no such delivery).
	AppParams func(accountID string) appsecret.ParamAPI
	// GitHub is the rotator's GitHub App, through which keys reach GitHub Actions secrets
	// (nil: no GitHub delivery).
	GitHub *appsecret.GitHub
	// Now is the clock the records are dated by (time.Now when nil).
	Now func() time.Time
	// Policy names the exempt tag: a user exempt by the time of the delivery gets no record.
	Policy policy.Config
	// Seal signs the notices recorded (history.Seal; the rotator's tag key).
	Seal *history.Seal
	Log  *slog.Logger
}

// Delivery is NotifyUser's result: what was sent, by SES message ID.
type Delivery struct {
	AccountID  string   `json:"accountId"`
	UserName   string   `json:"userName"`
	MessageIDs []string `json:"messageIds"`
	// AlreadyDelivered is set when the new key was sent by an earlier attempt of this run (a
	// retry after a lost response), or its hand-off secret was gone (its delivery confirmed).
	AlreadyDelivered bool `json:"alreadyDelivered,omitempty"`
}

// Handle sends the new key first (the zip, then its password), marks its hand-off secret
// sent and schedules its deletion, then one email per other notice, and finally records the
// delivered notices on the owner's IAM user. A new key that the application's secret refuses
// (pkg/appsecret Refused) is not delivered: the owner is sent its FailureNotice with the
// reason instead, the other notices go out, and the refusal is returned. Every email waits for its turn at the run's
// send rate. On an error nothing more is sent and nothing unsent is recorded: a retry, or the
// next run, sends what is missing (an email may then go out twice, never zero times).
func (d *Handler) Handle(ctx context.Context, n workflow.Notification) (Delivery, error) {
	out := Delivery{AccountID: n.Account.AccountID, UserName: n.UserName, MessageIDs: []string{}}
	sender := d.Sender.At(n.SendRate)
	a := Addressing{From: d.From, To: n.Email, AccountID: n.Account.AccountID, AccountName: n.Account.Name, UserName: n.UserName, Advice: advice.For(n.Use)}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	var delivered []policy.NoticeRef
	var writeErr error // the application's secret refused the new key
	if n.NewKey != nil {
		keyMsgs, err := d.newKeyMails(ctx, a, n, now())
		var missing *smtypes.ResourceNotFoundException
		var refused *appsecret.Refused
		switch {
		case errors.As(err, &refused):
			// Nothing was delivered: the key stays pending, is sent again by the next run and
			// is given up at the end of the bounded wait. The owner hears why now, once.
			writeErr = err
			d.Log.WarnContext(ctx, "new key refused by its secret", "account", a.AccountID, "user", n.UserName,
				"accessKeyId", n.NewKey.AccessKeyID, "reason", err.Error())
			// newKeyMails recorded the refusal, or kept an earlier attempt's record that it
			// wrote, or began to write, the key (the key may be in the secret).
			if fn := n.NewKey.FailureNotice; fn != nil {
				notice := *fn
				notice.Message = writeErr.Error() + ". " + notice.Message
				m, err := NoticeMail(a, notice)
				if err != nil {
					return out, errors.Join(writeErr, err)
				}
				if err := send(ctx, sender, &out, m); err != nil {
					return out, errors.Join(writeErr, err)
				}
				delivered = append(delivered, notice.Ref())
			}
		case errors.As(err, &missing), errors.Is(err, errSentBefore):
			out.AlreadyDelivered = true
			d.Log.WarnContext(ctx, "new key sent before: not sent again", "account", a.AccountID,
				"user", n.UserName, "accessKeyId", n.NewKey.AccessKeyID)
			// The attempt that sent it may have stopped before scheduling the deletion.
			if errors.Is(err, errSentBefore) {
				if err := handoff.Schedule(ctx, d.Secrets, n.NewKey.SecretARN); err != nil {
					return out, err
				}
			}
		case err != nil:
			return out, err
		default:
			if err := send(ctx, sender, &out, keyMsgs...); err != nil {
				return out, err
			}
			if err := handoff.MarkSent(ctx, d.Secrets, n.NewKey.SecretARN, now(), n.RunID, n.Email); err != nil {
				return out, err
			}
			// Sent: the secret is billed no more from here on; the next day's run confirms the
			// delivery (deletes it for good) or restores it to send the key again.
			if err := handoff.Schedule(ctx, d.Secrets, n.NewKey.SecretARN); err != nil {
				return out, err
			}
			d.Log.InfoContext(ctx, "new key sent", "account", a.AccountID, "user", n.UserName, "accessKeyId", n.NewKey.AccessKeyID)
		}
		// The new-key email is the NewKeyIssued notice the plan asked for, if it did (a
		// redelivery for a key that no longer exists asks for none); recorded also when an
		// earlier attempt sent it but failed to record it.
		if nk := (policy.NoticeRef{Kind: policy.NewKeyIssued, AccessKeyID: n.NewKey.ReplacesAccessKeyID}); writeErr == nil && slices.ContainsFunc(n.Notices, func(x policy.Notice) bool { return x.Ref() == nk }) {
			delivered = append(delivered, nk)
		}
	}
	for _, notice := range n.Notices {
		if notice.Kind == policy.NewKeyIssued {
			continue // told in the new-key email
		}
		m, err := NoticeMail(a, notice)
		if err != nil {
			return out, err
		}
		if err := send(ctx, sender, &out, m); err != nil {
			return out, d.record(ctx, n, delivered, now(), errors.Join(writeErr, err))
		}
		if notice.Kind.KeyRemains() {
			delivered = append(delivered, notice.Ref())
		}
		d.Log.InfoContext(ctx, "notice sent", "account", a.AccountID, "user", n.UserName, "kind", notice.Kind, "accessKeyId", notice.AccessKeyID)
	}
	return out, d.record(ctx, n, delivered, now(), writeErr)
}

func send(ctx context.Context, sender *Sender, out *Delivery, msgs ...Message) error {
	for _, m := range msgs {
		id, err := sender.Send(ctx, m)
		if err != nil {
			return err
		}
		out.MessageIDs = append(out.MessageIDs, id)
	}
	return nil
}

// record adds the delivered notices to the owner's history, even when a later send failed
// (sendErr), so that a retry does not repeat them; it returns sendErr, or the recording's error.
func (d *Handler) record(ctx context.Context, n workflow.Notification, delivered []policy.NoticeRef, on time.Time, sendErr error) error {
	if err := history.RecordNotices(ctx, d.History(n.Account.AccountID), d.Seal, n.Account.AccountID, n.UserName, n.Email, delivered, on, n.Unconfirmed, d.Policy); err != nil {
		return errors.Join(sendErr, fmt.Errorf("in account %s: %w", n.Account.AccountID, err))
	}
	return sendErr
}

// recordRefusal records on the hand-off secret that the application's secret (to) refused the
// new key of n, so that a same-day re-run does not send it again. When an earlier attempt
// wrote the key there, or began to (begun), the key may be there: if the member role may not
// describe the secret (its opt-in withdrawn), that record stays, since nothing else can tell;
// if it may, the secret tells: a key it holds is recorded written, else refused.
func (d *Handler) recordRefusal(ctx context.Context, n workflow.Notification, to string, begun bool, now time.Time) error {
	if begun {
		created, err := handoff.Created(ctx, d.Secrets, n.NewKey.SecretARN)
		if err != nil {
			return err
		}
		dest := d.dest(n.Account.AccountID, to)
		state, err := dest.Find(ctx, n.NewKey.AccessKeyID, created)
		switch {
		case err != nil:
			return err
		case state == appsecret.Hidden, state == appsecret.Holds && dest.AwaitsFirstUse():
			// Cannot tell: a GitHub secret written since the key was made may be the
			// application's own write. The record that the write began stays, and a later
			// run writes the key again.
			return nil
		case state == appsecret.Holds:
			return handoff.MarkWritten(ctx, d.Secrets, n.NewKey.SecretARN, now, n.RunID)
		}
	}
	return handoff.MarkRefused(ctx, d.Secrets, n.NewKey.SecretARN, now, n.RunID)
}

var errSentBefore = errors.New("the new key was sent by an earlier attempt of this run")

// newKeyMails reads the new key from its hand-off secret and composes the zip and password
// emails; for a key that goes to a secret of the member account, it writes the key there
// (again, on a retry: the write is idempotent) and composes the owner's notice of it.
//
// The old key's day it names is the notification's, and not before the day after now: the
// old key is deactivated only once the owner got the new key on an earlier day, so a
// notification sent later than it was made (a retry past midnight) names no day already past.
func (d *Handler) newKeyMails(ctx context.Context, a Addressing, n workflow.Notification, now time.Time) ([]Message, error) {
	sent, err := handoff.ReadSent(ctx, d.Secrets, n.NewKey.SecretARN)
	switch {
	case err != nil:
		return nil, err
	case sent.In(n.RunID):
		return nil, errSentBefore
	}
	key, err := handoff.Read(ctx, d.Secrets, n.NewKey.SecretARN)
	if err != nil {
		return nil, err
	}
	if key.AccessKeyID != n.NewKey.AccessKeyID {
		return nil, fmt.Errorf("hand-off secret %s holds key %s, the notification names %s", n.NewKey.SecretARN, key.AccessKeyID, n.NewKey.AccessKeyID)
	}
	on := policy.AnnouncedDay(n.NewKey.DeactivateOn, now)
	notice := policy.Notice{Kind: policy.NewKeyIssued, AccessKeyID: n.NewKey.ReplacesAccessKeyID, ActBy: on,
		Message: policy.NewKeyIssuedMessage(n.NewKey.ReplacesAccessKeyID, on), Usage: n.NewKey.Replaced}
	if to := n.NewKey.DeliverTo; to != "" {
		// The record of the write goes just before it, once the secret's opt-in is checked: an
		// attempt that stops after the write took effect (its MarkWritten failing, a crash),
		// and whose retry finds the secret refusing, must not leave the key for one nobody
		// received; an attempt that stops before it sent the write (the check failing or
		// refusing) leaves no record that the key may be there. An earlier attempt's record
		// stays.
		begun := sent.WriteBegun()
		dest := d.dest(a.AccountID, to)
		err := dest.Check(ctx, n.UserName)
		if err == nil && !begun {
			if err := handoff.MarkWriting(ctx, d.Secrets, n.NewKey.SecretARN, now, n.RunID); err != nil {
				return nil, err
			}
		}
		if err == nil {
			err = dest.Put(ctx, n.UserName, key.AccessKeyID, key.SecretAccessKey)
		}
		if err != nil {
			err = fmt.Errorf("in account %s: %w", a.AccountID, err)
			var refused *appsecret.Refused
			if errors.As(err, &refused) {
				if markErr := d.recordRefusal(ctx, n, to, begun, now); markErr != nil {
					// Not the refusal itself: the retry tries again.
					return nil, fmt.Errorf("%s; %w", err.Error(), markErr)
				}
			}
			return nil, err
		}
		if err := handoff.MarkWritten(ctx, d.Secrets, n.NewKey.SecretARN, now, n.RunID); err != nil {
			return nil, err
		}
		d.Log.InfoContext(ctx, "new key written to its secret", "account", a.AccountID, "user", n.UserName,
			"accessKeyId", key.AccessKeyID, "destination", dest.Tag())
		m, err := SecretKeyMail(a, key.AccessKeyID, dest.String(), notice)
		return []Message{m}, err
	}
	password := key.ZipPassword
	if password.IsZero() { // a secret stored by a version that made the password here
		password = handoff.NewZipPassword()
	}
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

// dest is the secret or SSM parameter to (workflow.NewKey.DeliverTo) in accountID.
func (d *Handler) dest(accountID, to string) appsecret.Destination {
	c := appsecret.Clients{Secrets: d.AppSecrets(accountID), GitHub: d.GitHub, AccountID: accountID}
	if d.AppParams != nil {
		c.Params = d.AppParams(accountID)
	}
	return c.Open(to)
}

// MemberHistory returns a Handler.History that records notices through NotifyUser's role in
// each account of partition (config.Settings.Partition), named after the member role
// (config.NotifyMemberRoleName), assumed from base. That role allows reading a user's tags and
// writing the notices tag, nothing else: AWS keeps the member role's key writes out of
// NotifyUser's reach, as the member role trusts only ScanAndRotate.
func MemberHistory(base aws.Config, partition, memberRoleName string) func(accountID string) history.TagAPI {
	return func(accountID string) history.TagAPI {
		return iam.NewFromConfig(notifySession(base, partition, memberRoleName, accountID))
	}
}

// MemberSecrets returns a Handler.AppSecrets that writes keys to the secrets of each
// account through NotifyUser's role there (as MemberHistory), which allows only that:
// describing and writing secrets that carry the opt-in tag key, and their KMS keys through
// Secrets Manager.
func MemberSecrets(base aws.Config, partition, memberRoleName string) func(accountID string) appsecret.API {
	return func(accountID string) appsecret.API {
		return secretsmanager.NewFromConfig(notifySession(base, partition, memberRoleName, accountID))
	}
}

// MemberParams returns a Handler.AppParams that writes keys to the SecureString parameters of
// each account through NotifyUser's role there (as MemberSecrets), which allows only that:
// describing parameters, reading the tags of and overwriting those that carry the opt-in tag
// key, and their KMS keys through SSM.
func MemberParams(base aws.Config, partition, memberRoleName string) func(accountID string) appsecret.ParamAPI {
	return func(accountID string) appsecret.ParamAPI {
		return ssm.NewFromConfig(notifySession(base, partition, memberRoleName, accountID))
	}
}

// notifySession is NotifyUser's role in accountID, assumed from base.
func notifySession(base aws.Config, partition, memberRoleName, accountID string) aws.Config {
	return awsclient.AssumeRole(base, awsclient.RoleARN(partition, accountID, config.NotifyMemberRoleName(memberRoleName)),
		awsclient.SessionName("notify", accountID))
}
