// Package handoff moves a new access key from ScanAndRotate to NotifyUser through Secrets
// Manager (KMS-encrypted; only NotifyUser can decrypt), so that the secret part never travels
// in a Step Functions payload. A secret that still exists, scheduled for deletion or not, is a
// key whose delivery is not confirmed: NotifyUser marks it sent and schedules its deletion
// (Secrets Manager bills no secret scheduled for deletion), and a later ScanAndRotate confirms
// the delivery (the address did not bounce) and deletes it for good, or restores it for the
// key to be sent again.
package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/secret"
)

// SecretsAPI is the part of Secrets Manager the scanning side uses.
type SecretsAPI interface {
	Deleter
	Tagger
	RestoreSecret(context.Context, *secretsmanager.RestoreSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.RestoreSecretOutput, error)
	CreateSecret(context.Context, *secretsmanager.CreateSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	secretsmanager.ListSecretsAPIClient
}

// Value is the JSON a hand-off secret holds: the new key, whole, and the password its zip is
// sealed with. Only NotifyUser reads it (the KMS key allows nobody else to decrypt). The
// password is made once, with the key, so that every attempt to mail the key (a retry after a
// throttled password email, a redelivery) seals the zip with the password the owner may
// already have received.
type Value struct {
	AccessKeyID     string        `json:"accessKeyId"`
	SecretAccessKey secret.Secret `json:"-"`
	// ZipPassword is zero in a secret stored before the password was kept with its key.
	ZipPassword secret.Secret `json:"-"`
}

// valueJSON is a Value as Secrets Manager stores it, secrets revealed.
type valueJSON struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	ZipPassword     string `json:"zipPassword,omitempty"`
}

// MarshalJSON writes the secret parts too: this is the one place they are serialised, for
// Secrets Manager.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(valueJSON{v.AccessKeyID, v.SecretAccessKey.Reveal(), v.ZipPassword.Reveal()})
}

// UnmarshalJSON reads a hand-off secret's value.
func (v *Value) UnmarshalJSON(b []byte) error {
	var raw valueJSON
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("hand-off secret value is not the expected JSON object")
	}
	if raw.AccessKeyID == "" || raw.SecretAccessKey == "" {
		return fmt.Errorf("hand-off secret value lacks accessKeyId or secretAccessKey")
	}
	*v = Value{AccessKeyID: raw.AccessKeyID, SecretAccessKey: secret.New(raw.SecretAccessKey)}
	if raw.ZipPassword != "" {
		v.ZipPassword = secret.New(raw.ZipPassword)
	}
	return nil
}

// The hand-off secret's tags: what a later run needs to redeliver the key. UserTag is the
// user whose key the secret holds; its key happens to be spelled as an application secret's
// opt-in (appsecret.OptInTag), a different fact on a different secret.
const (
	UserTag         = config.RotatorTagKeyPrefix + "user"
	AccessKeyIDTag  = config.RotatorTagKeyPrefix + "access-key-id"
	ReplacesTag     = config.RotatorTagKeyPrefix + "replaces"
	DeactivateOnTag = config.RotatorTagKeyPrefix + "deactivate-on"
	// UnwatchedRunTag names the last run that gave the key to NotifyUser while SES did not
	// suppress bounces (tagUnwatchedRun below): a key so tagged may have reached its owner.
	UnwatchedRunTag = config.RotatorTagKeyPrefix + "unwatched-run"
	// tagDeliverTo names the member account's secret that receives the key (pkg/appsecret);
	// absent, the key goes to the owner by email.
	tagDeliverTo = config.RotatorTagKeyPrefix + "deliver-to"
	// sentTag is set by NotifyUser once SES accepted both emails ("RFC3339 runId address"):
	// acceptance is not delivery, so the secret stays until a later run confirms that the
	// address did not bounce. For a key the application's secret refused, nothing was sent:
	// "RFC3339 runId refused" (MarkRefused; an address always holds an "@"). For a key
	// written to the application's secret before its owner's email went out: "RFC3339 runId
	// written" (MarkWritten); for one about to be written there: "RFC3339 runId writing"
	// (MarkWriting).
	sentTag = config.HandoffSentTag
	// tagUnwatchedRun names the last run that gave the key to NotifyUser while SES's
	// suppression settings did not suppress bounces (pkg/suppression): a send by that run
	// (the sent tag's run) can never be confirmed from the suppression list, since a bounce
	// would have left no trace there.
	tagUnwatchedRun = UnwatchedRunTag
	// refusedMark stands for the address in sentTag's value of a refused key.
	refusedMark = "refused"
	// writtenMark stands for the address in sentTag's value of a key NotifyUser wrote to the
	// application's secret, before its owner's email went out (MarkWritten).
	writtenMark = "written"
	// writingMark stands for the address in sentTag's value of a key NotifyUser began to
	// write to the application's secret, the outcome not recorded (MarkWriting).
	writingMark = "writing"
)

// Pending is a created key whose hand-off secret still waits for its delivery to be confirmed.
type Pending struct {
	SecretARN, SecretName                         string
	UserName, AccessKeyID, Replaces, DeactivateOn string
	// DeliverTo is the secret of the user's member account that receives the key; empty:
	// the owner's mailbox.
	DeliverTo string
	// Created is when the secret was stored; Sent, when SES accepted its emails (zero: not
	// yet), and SentTo the address they went to.
	Created, Sent time.Time
	SentTo        string
	// SentRun is the run whose NotifyUser sent it; UnwatchedRun the last run that queued it
	// while bounces were not suppressed (MarkUnwatched).
	SentRun, UnwatchedRun string
	// Refused is when NotifyUser last found the application's secret refusing the key
	// (pkg/appsecret; zero: never): a same-day re-run does not send it again.
	Refused time.Time
	// Written is when NotifyUser wrote the key to the application's secret, its owner's email
	// not yet sent (zero: not known): the key is delivered, also if the member role may not
	// describe the secret since. A later MarkSent replaces it; MarkRefused does not.
	Written time.Time
	// Writing is when NotifyUser began to write the key to the application's secret, with no
	// record of the outcome since (zero: not known): the write may have taken effect, so the
	// key may be in the secret, also if the member role may not describe the secret since.
	// MarkWritten, MarkSent or MarkRefused (of an attempt that wrote nothing) replaces it.
	Writing time.Time
	// Scheduled is set when the secret is scheduled for deletion (NotifyUser schedules it once
	// sent): its value cannot be read until it is restored.
	Scheduled bool
}

// RecoveryWindowDays is the recovery window NotifyUser schedules a sent secret's deletion
// with, Secrets Manager's maximum: the later run that confirms the delivery deletes it for
// good, or restores it to send the key again, within those days. A scheduled secret is not
// billed, so the longest window costs nothing and lets a bounced send be found even after
// weeks without a run reaching the account.
const RecoveryWindowDays = 30

var secretNameUnsafe = regexp.MustCompile(`[^` + config.SecretNameChars + `]`)

// Name names the secret of one new key: <prefix><account>/<user>/<key ID>.
func Name(prefix, accountID, userName, accessKeyID string) string {
	return prefix + accountID + "/" + secretNameUnsafe.ReplaceAllString(userName, "_") + "/" + accessKeyID
}

// Store saves a new key for NotifyUser, encrypted with the hand-off KMS key.
func Store(ctx context.Context, sm SecretsAPI, name, kmsKeyID string, value Value, p Pending) (string, error) {
	body, err := json.Marshal(value)
	if err != nil {
		return "", fmt.Errorf("encode hand-off secret for key %s: %w", value.AccessKeyID, err)
	}
	in := &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(string(body)),
		Description:  aws.String("New access key waiting for delivery to its owner by the IAM access key rotator"),
		Tags: []smtypes.Tag{
			{Key: aws.String(UserTag), Value: aws.String(p.UserName)},
			{Key: aws.String(AccessKeyIDTag), Value: aws.String(p.AccessKeyID)},
			{Key: aws.String(ReplacesTag), Value: aws.String(p.Replaces)},
			{Key: aws.String(DeactivateOnTag), Value: aws.String(p.DeactivateOn)},
		},
	}
	if p.DeliverTo != "" {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(tagDeliverTo), Value: aws.String(p.DeliverTo)})
	}
	if p.UnwatchedRun != "" {
		in.Tags = append(in.Tags, smtypes.Tag{Key: aws.String(tagUnwatchedRun), Value: aws.String(p.UnwatchedRun)})
	}
	if kmsKeyID != "" {
		in.KmsKeyId = aws.String(kmsKeyID)
	}
	out, err := sm.CreateSecret(ctx, in)
	if err != nil {
		return "", fmt.Errorf("store hand-off secret %s: %w", name, err)
	}
	return aws.ToString(out.ARN), nil
}

// List lists the hand-off secrets of an account whose delivery is not confirmed, by access
// key ID, those scheduled for deletion included (sent, awaiting confirmation). A secret
// without the tags that say whose key it holds is not fatal: it is set aside, one problem
// each, for the report (the key it holds, if any, is an orphan's).
func List(ctx context.Context, sm SecretsAPI, prefix, accountID string) (map[string]Pending, []error, error) {
	pending := map[string]Pending{}
	var problems []error
	namePrefix := prefix + accountID + "/"
	pages := secretsmanager.NewListSecretsPaginator(sm, &secretsmanager.ListSecretsInput{IncludePlannedDeletion: aws.Bool(true),
		Filters: []smtypes.Filter{{Key: smtypes.FilterNameStringTypeName, Values: []string{namePrefix}}},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("list hand-off secrets of %s: %w", accountID, err)
		}
		for _, s := range page.SecretList {
			if !strings.HasPrefix(aws.ToString(s.Name), namePrefix) {
				continue
			}
			tags := map[string]string{}
			for _, t := range s.Tags {
				tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			p := Pending{SecretARN: aws.ToString(s.ARN), SecretName: aws.ToString(s.Name), UserName: tags[UserTag],
				AccessKeyID: tags[AccessKeyIDTag], Replaces: tags[ReplacesTag], DeactivateOn: tags[DeactivateOnTag],
				DeliverTo: tags[tagDeliverTo], Created: aws.ToTime(s.CreatedDate), Scheduled: s.DeletedDate != nil, UnwatchedRun: tags[tagUnwatchedRun]}
			if sent, ok := tags[sentTag]; ok {
				fields := strings.Fields(sent)
				t, err := time.Parse(time.RFC3339, strings.Fields(sent + " ")[0])
				if err != nil || len(fields) != 3 {
					problems = append(problems, fmt.Errorf("hand-off secret %s: tag %s %q is not an RFC 3339 time", p.SecretName, sentTag, sent))
					continue
				}
				switch fields[2] {
				case refusedMark:
					p.Refused = t
				case writtenMark:
					p.Written = t
				case writingMark:
					p.Writing = t
				default:
					p.Sent, p.SentRun, p.SentTo = t, fields[1], fields[2]
				}
			}
			if p.AccessKeyID == "" || p.UserName == "" || !strings.HasSuffix(p.SecretName, "/"+p.AccessKeyID) {
				problems = append(problems, fmt.Errorf("hand-off secret %s lacks its %s or %s tag, or they do not match its name: set aside",
					p.SecretName, AccessKeyIDTag, UserTag))
				continue
			}
			pending[p.AccessKeyID] = p
		}
	}
	return pending, problems, nil
}

// SentUnwatched reports whether the key's last send was made by a run in which SES did not
// suppress bounces: silence from the suppression list proves nothing of it.
func (p Pending) SentUnwatched() bool { return p.SentRun != "" && p.SentRun == p.UnwatchedRun }

// MaySendHaveArrived reports whether an email send of the key may have reached its owner
// unseen: some run gave it to NotifyUser while SES did not suppress bounces (the secret's
// unwatched-run tag, which stays after later sends). A bounce of such a send left no trace on
// the suppression list, and a later send that bounced says nothing of it. Conservative: a run
// so tagged whose NotifyUser then sent nothing counts too.
func (p Pending) MaySendHaveArrived() bool { return p.DeliverTo == "" && p.UnwatchedRun != "" }

// MarkUnwatched records on the secret that run runID gives its key to NotifyUser while
// bounces are not suppressed, before it does: that run's send is never confirmed.
func MarkUnwatched(ctx context.Context, sm Tagger, arn, runID string) error {
	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn),
		Tags: []smtypes.Tag{{Key: aws.String(tagUnwatchedRun), Value: aws.String(runID)}}}); err != nil {
		return fmt.Errorf("mark hand-off secret %s sent while bounces are not suppressed: %w", arn, err)
	}
	return nil
}

// Tagger is the call NotifyUser makes to mark a secret sent.
type Tagger interface {
	TagResource(context.Context, *secretsmanager.TagResourceInput, ...func(*secretsmanager.Options)) (*secretsmanager.TagResourceOutput, error)
}

// MarkSent records on the secret that SES accepted the key's emails to address at t, in run
// runID.
func MarkSent(ctx context.Context, sm Tagger, arn string, t time.Time, runID, address string) error {
	value := t.UTC().Format(time.RFC3339) + " " + runID + " " + address
	if _, err := sm.TagResource(ctx, &secretsmanager.TagResourceInput{SecretId: aws.String(arn),
		Tags: []smtypes.Tag{{Key: aws.String(sentTag), Value: &value}}}); err != nil {
		return fmt.Errorf("mark hand-off secret %s sent: %w", arn, err)
	}
	return nil
}

// MarkRefused tags the secret with the time t and run of NotifyUser's attempt that the
// application's secret refused (nothing was sent): a same-day re-run of ScanAndRotate does
// not send the key again (the next day's run does). A later MarkSent replaces it.
func MarkRefused(ctx context.Context, sm Tagger, arn string, t time.Time, runID string) error {
	return MarkSent(ctx, sm, arn, t, runID, refusedMark)
}

// MarkWritten tags the secret with the time t and run of NotifyUser's attempt that wrote its
// key to the application's secret, at once: an attempt that fails after the write, and whose
// retry finds the secret refusing (its opt-in withdrawn in between: the rotator may then not
// even describe it), leaves the record that the key was delivered.
func MarkWritten(ctx context.Context, sm Tagger, arn string, t time.Time, runID string) error {
	return MarkSent(ctx, sm, arn, t, runID, writtenMark)
}

// MarkWriting tags the secret with the time t and run of NotifyUser's attempt that is about
// to write its key to the application's secret: an attempt that stops after the write took
// effect and before MarkWritten (its TagResource failing past the SDK's retries, a crash),
// and whose retry finds the secret refusing (its opt-in withdrawn in between: the rotator may
// then not even describe it), leaves the record that the key may be there.
func MarkWriting(ctx context.Context, sm Tagger, arn string, t time.Time, runID string) error {
	return MarkSent(ctx, sm, arn, t, runID, writingMark)
}

// Sent is a hand-off secret's sent record as read (ReadSent): NotifyUser's last mark.
type Sent struct{ fields []string }

// ReadSent reads the secret's sent record. A secret scheduled for deletion can still be
// described.
func ReadSent(ctx context.Context, sm Reader, arn string) (Sent, error) {
	fields, err := sentRecord(ctx, sm, arn)
	return Sent{fields: fields}, err
}

// In reports whether run runID already sent the key: a retried NotifyUser then sends it no
// second time.
func (s Sent) In(runID string) bool {
	return len(s.fields) == 3 && s.fields[1] == runID && !slices.Contains([]string{refusedMark, writtenMark, writingMark}, s.fields[2])
}

// WriteBegun reports, of a key that goes to the application's secret, whether an earlier
// attempt wrote it there or began to: MarkWritten's or MarkWriting's record, or MarkSent's,
// which NotifyUser sets for such a key only after writing it. The key may be there whatever
// the secret answers now.
func (s Sent) WriteBegun() bool {
	return len(s.fields) == 3 && s.fields[2] != refusedMark
}

// Created is when the hand-off secret was stored: just after its key was made
// (Pending.Created), what a destination that keeps no version tells its write by
// (appsecret.Destination.Find).
func Created(ctx context.Context, sm Reader, arn string) (time.Time, error) {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return time.Time{}, fmt.Errorf("describe hand-off secret %s: %w", arn, err)
	}
	return aws.ToTime(out.CreatedDate), nil
}

// sentRecord is the fields of the secret's sent tag (when, the run, the mark), nil without one.
func sentRecord(ctx context.Context, sm Reader, arn string) ([]string, error) {
	out, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("describe hand-off secret %s: %w", arn, err)
	}
	for _, t := range out.Tags {
		if aws.ToString(t.Key) == sentTag {
			return strings.Fields(aws.ToString(t.Value)), nil
		}
	}
	return nil, nil
}

// SentIn reports whether run runID already sent the key of the secret: a retried NotifyUser
// then sends it no second time. A secret scheduled for deletion can still be described.
func SentIn(ctx context.Context, sm Reader, arn, runID string) (bool, error) {
	sent, err := ReadSent(ctx, sm, arn)
	return sent.In(runID), err
}

// Schedule schedules the deletion of a sent secret after the minimum recovery window: from
// then on Secrets Manager bills it no more and nobody can read it, but a later run can still
// list it (ListSecrets with IncludePlannedDeletion), delete it for good, or restore it. A
// secret already scheduled (a retry) or gone is left as it is.
func Schedule(ctx context.Context, sm Deleter, arn string) error {
	_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), RecoveryWindowInDays: aws.Int64(RecoveryWindowDays)})
	var scheduled *smtypes.InvalidRequestException
	var gone *smtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &scheduled) && !errors.As(err, &gone) {
		return fmt.Errorf("schedule the deletion of hand-off secret %s: %w", arn, err)
	}
	return nil
}

// Restore cancels the scheduled deletion of a secret whose delivery is not confirmed, so that
// NotifyUser can read it and Secrets Manager does not delete it at the end of its recovery
// window. It reports false when the secret is gone (deleted for good since ListSecrets, which
// lags, listed it). A secret no longer scheduled (restored by a retried attempt: the listing
// lags) is restored.
func Restore(ctx context.Context, sm SecretsAPI, arn string) (bool, error) {
	_, err := sm.RestoreSecret(ctx, &secretsmanager.RestoreSecretInput{SecretId: aws.String(arn)})
	var gone *smtypes.ResourceNotFoundException
	var notScheduled *smtypes.InvalidRequestException
	switch {
	case errors.As(err, &gone):
		return false, nil
	case errors.As(err, &notScheduled):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("restore hand-off secret %s: %w", arn, err)
	}
	return true, nil
}

// Delete removes a hand-off secret at once (no recovery window: it holds a key), also one
// scheduled for deletion. A secret already gone (ListSecrets may list a deleted secret for
// minutes) is deleted.
func Delete(ctx context.Context, sm Deleter, arn string) error {
	_, err := sm.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String(arn), ForceDeleteWithoutRecovery: aws.Bool(true)})
	var gone *smtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &gone) {
		return fmt.Errorf("delete hand-off secret %s: %w", arn, err)
	}
	return nil
}

// Deleter is the one call both sides make: ScanAndRotate deletes a delivered or orphaned
// secret, NotifyUser schedules the deletion of a sent one.
type Deleter interface {
	DeleteSecret(context.Context, *secretsmanager.DeleteSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

// Reader is the part of Secrets Manager NotifyUser uses.
type Reader interface {
	Tagger
	Deleter
	DescribeSecret(context.Context, *secretsmanager.DescribeSecretInput, ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Read fetches a new key from its hand-off secret.
func Read(ctx context.Context, sm Reader, arn string) (Value, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return Value{}, fmt.Errorf("read hand-off secret %s: %w", arn, err)
	}
	var v Value
	if err := json.Unmarshal([]byte(aws.ToString(out.SecretString)), &v); err != nil {
		return Value{}, fmt.Errorf("read hand-off secret %s: %w", arn, err)
	}
	return v, nil
}
