// Package lease keeps two executions from writing in the same member account at the same
// time: ScanAndRotate holds an account's lease, an S3 object written with a conditional put
// (If-None-Match, or If-Match on an expired holder's ETag), while it writes there. A retry
// of the same execution takes its own lease back; a lease left by a Lambda that died expires.
// Beside each lease, Once keeps records written once per account and name.
package lease

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is the part of S3 a lease uses.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// DefaultTTL outlasts a Lambda's longest run (15 minutes): a holder that died frees the
// account after it.
const DefaultTTL = 20 * time.Minute

// Leases takes and gives back accounts' leases in one bucket.
type Leases struct {
	S3     S3API
	Bucket string
	TTL    time.Duration    // DefaultTTL when zero
	Clock  func() time.Time // time.Now when nil
	// Sleep waits between the attempts of a conditional write S3 answered with 409
	// ConditionalRequestConflict (time.Sleep when nil).
	Sleep func(time.Duration)
}

// conflictAttempts bounds the attempts of a lease's conditional writes that S3 answers with
// 409 ConditionalRequestConflict, each after a longer pause (conflictPause times the
// attempt): past them, another execution is writing the lease, and the account is Busy.
const (
	conflictAttempts = 4
	conflictPause    = 100 * time.Millisecond
)

// Busy is the error when another execution holds the account.
type Busy struct {
	AccountID, Holder string
	Until             time.Time
}

func (b *Busy) Error() string {
	return fmt.Sprintf("account %s is being processed by execution %s (lease until %s): skipped, the next run processes it",
		b.AccountID, b.Holder, b.Until.UTC().Format(time.RFC3339))
}

type record struct {
	RunID   string    `json:"runId"`
	Expires time.Time `json:"expires"`
}

// Acquire takes the account's lease for run runID and returns its release. It fails with
// *Busy while another run holds an unexpired lease.
func (l *Leases) Acquire(ctx context.Context, accountID, runID string) (func(context.Context) error, error) {
	now := time.Now
	if l.Clock != nil {
		now = l.Clock
	}
	ttl := l.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	body, err := json.Marshal(record{RunID: runID, Expires: now().Add(ttl).UTC()})
	if err != nil {
		return nil, err
	}
	key := workflow.LeaseKey(accountID)
	put := func(condition func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: &l.Bucket, Key: &key, Body: bytes.NewReader(body), ContentType: aws.String("application/json")}
		condition(in)
		_, err := l.S3.PutObject(ctx, in)
		return err
	}
	// S3 answers a conditional write that races another operation on the key with 409
	// ConditionalRequestConflict and asks for a retry (for If-Match, with the ETag read
	// again): the whole attempt, read included, is made again.
	for attempt := 1; ; attempt++ {
		err = put(func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
		if preconditionFailed(err) {
			err = l.takeOver(ctx, accountID, runID, now(), put)
		}
		if !conflict(err) {
			break
		}
		if attempt == conflictAttempts {
			return nil, &Busy{AccountID: accountID, Holder: "(another execution, writing the lease just now)", Until: now().Add(DefaultTTL)}
		}
		sleep := time.Sleep
		if l.Sleep != nil {
			sleep = l.Sleep
		}
		sleep(time.Duration(attempt) * conflictPause)
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		if _, err := l.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &l.Bucket, Key: &key}); err != nil {
			return fmt.Errorf("release the lease of account %s: %w", accountID, err)
		}
		return nil
	}, nil
}

// takeOver reads the lease another attempt wrote: this run's own (a retry) or an expired one
// is replaced, on condition that it did not change meanwhile.
func (l *Leases) takeOver(ctx context.Context, accountID, runID string, now time.Time, put func(func(*s3.PutObjectInput)) error) error {
	key := workflow.LeaseKey(accountID)
	out, err := l.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &l.Bucket, Key: &key})
	if err != nil {
		return fmt.Errorf("read the lease of account %s: %w", accountID, err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(out.Body)
	if err != nil {
		return fmt.Errorf("read the lease of account %s: %w", accountID, err)
	}
	var held record
	if err := json.Unmarshal(raw, &held); err != nil {
		held = record{RunID: "(unreadable lease)"} // expired: replaced
	}
	if held.RunID != runID && now.Before(held.Expires) {
		return &Busy{AccountID: accountID, Holder: held.RunID, Until: held.Expires}
	}
	err = put(func(in *s3.PutObjectInput) { in.IfMatch = out.ETag })
	if preconditionFailed(err) {
		return &Busy{AccountID: accountID, Holder: "(another execution, just now)", Until: now.Add(DefaultTTL)}
	}
	return err
}

// Once reports whether this is the first call with name for the account: it writes an empty
// object under the account's lease key with a conditional put (If-None-Match), so that of
// every run, retry and re-run that asks, exactly one is told true. The bucket's lifecycle
// rule expires the objects. ScanAndRotate uses it for what cannot be recorded in IAM (a
// reminder to a user whose tags are full: pkg/rotate).
func (l *Leases) Once(ctx context.Context, accountID, name string) (bool, error) {
	key := workflow.LeaseKey(accountID) + "/once/" + name
	_, err := l.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &l.Bucket, Key: &key, Body: bytes.NewReader(nil), IfNoneMatch: aws.String("*")})
	switch {
	case preconditionFailed(err), conflict(err):
		return false, nil // done before, or being done by a racing run
	case err != nil:
		return false, fmt.Errorf("record %s in account %s: %w", name, accountID, err)
	}
	return true, nil
}

// conflict reports S3's 409 ConditionalRequestConflict: a conditional write raced another
// operation on the key; S3 asks for a retry.
func conflict(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "ConditionalRequestConflict"
}

func preconditionFailed(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed"
}
