// Package sendrate keeps the emails of every sender — each NotifyUser and CleanupReport
// invocation, of every execution running — under one SES send rate. Before each attempt to
// send, a sender reserves a slot: an empty object send-slots/<UTC second>/<k> (k < rate) in
// the report bucket, written with a conditional put (If-None-Match: *) that S3 accepts once
// per key, so that no second ever holds more than rate reservations, however many senders
// run at once. Slot k of a second is for its k/rate-th fraction: a sender waits for its
// slot's time, and sends are spread evenly over the second. A lifecycle rule expires the
// slots.
package sendrate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// S3API is the one S3 call a reservation makes.
type S3API interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Reserve is the time a sender keeps before its invocation's deadline for the send itself
// and what follows it (recording the delivered notices): no slot later than the deadline
// minus Reserve is taken.
const Reserve = 15 * time.Second

// Slots reserves send slots in one bucket. Safe for concurrent use.
type Slots struct {
	S3     S3API
	Bucket string
	// Clock is time.Now unless set; Sleep waits unless the context ends first (a timer
	// unless set).
	Clock func() time.Time
	Sleep func(context.Context, time.Duration) error

	mu   sync.Mutex
	next slot // the first slot this sender has not seen taken
}

// slot is the k-th of rate slots of a UTC second.
type slot struct {
	second  time.Time
	k, rate int
}

// at is the slot's time: its fraction of the second.
func (s slot) at() time.Time {
	return s.second.Add(time.Duration(s.k) * s.interval())
}

// interval is the time between two slots.
func (s slot) interval() time.Duration { return time.Second / time.Duration(s.rate) }

func (s slot) key() string {
	return fmt.Sprintf("%s%s/%d", workflow.SendSlotsPrefix, s.second.UTC().Format(time.RFC3339), s.k)
}

func (s slot) following() slot {
	if s.k+1 < s.rate {
		return slot{s.second, s.k + 1, s.rate}
	}
	return slot{s.second.Add(time.Second), 0, s.rate}
}

// from is the first slot at rate whose time is not before now.
func from(now time.Time, rate int) slot {
	second := now.Truncate(time.Second)
	k := int((now.Sub(second)*time.Duration(rate) + time.Second - 1) / time.Second)
	if k >= rate {
		return slot{second.Add(time.Second), 0, rate}
	}
	return slot{second, k, rate}
}

// Take reserves the first free slot of rate per second (at least 1) that has not passed and
// waits for its time: the caller sends when it returns. When its sender gets there late (a
// slow put, a paused process) with less than half the interval between slots left in the
// slot's second, the slot goes unused and another is taken: a send never leaves later than
// that in its slot's second, so that it does not arrive in the next one. When no slot is
// left before the context's deadline minus Reserve, Take reserves nothing and returns a
// *workflow.RetryableError: the send is left for a retry, or the next run.
func (s *Slots) Take(ctx context.Context, rate int) error {
	rate = max(rate, 1)
	deadline, bounded := ctx.Deadline()
	sl := s.first(rate)
	for {
		if bounded && sl.at().After(deadline.Add(-Reserve)) {
			return &workflow.RetryableError{Err: fmt.Errorf("no SES send slot at %d per second is free before %s (the invocation's deadline less %s): not sent",
				rate, deadline.Add(-Reserve).UTC().Format(time.RFC3339), Reserve)}
		}
		key := sl.key()
		_, err := s.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, IfNoneMatch: aws.String("*")})
		switch {
		case taken(err):
			sl = sl.following()
			continue
		case err != nil:
			return fmt.Errorf("reserve SES send slot s3://%s/%s: %w", s.Bucket, key, err)
		}
		s.mu.Lock()
		s.next = sl.following()
		s.mu.Unlock()
		if err := s.sleep(ctx, sl.at().Sub(s.now())); err != nil {
			return err
		}
		if s.now().Before(sl.second.Add(time.Second - sl.interval()/2)) {
			return nil
		}
		sl = s.first(rate)
	}
}

// first is where a search for a free slot starts: the first slot not passed, or, when this
// sender took a later one before, the slot after it (the ones before are taken).
func (s *Slots) first(rate int) slot {
	sl := from(s.now(), rate)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next.rate == rate && s.next.at().After(sl.at()) {
		return s.next
	}
	return sl
}

func (s *Slots) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

func (s *Slots) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// taken reports a slot somebody else holds: the object exists (412), or another conditional
// write of it is in flight (409).
func taken(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "PreconditionFailed" || apiErr.ErrorCode() == "ConditionalRequestConflict")
}

// GetAccountAPI is the SES v2 call that tells the account's send quota.
type GetAccountAPI interface {
	GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// Rate returns how a run learns its send rate: configured (SES_MAX_SEND_RATE) when it is
// above 0, or else SES's maximum send rate for the account and region (GetAccount's
// SendQuota.MaxSendRate), in whole messages per second, at least 1.
func Rate(configured int, ses GetAccountAPI) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		if configured > 0 {
			return configured, nil
		}
		out, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
		if err != nil {
			return 0, fmt.Errorf("read the SES send quota (set SES_MAX_SEND_RATE to do without): %w", err)
		}
		if out.SendQuota == nil {
			return 0, errors.New("read the SES send quota: GetAccount returned no SendQuota (set SES_MAX_SEND_RATE to do without)")
		}
		return max(int(math.Floor(out.SendQuota.MaxSendRate)), 1), nil
	}
}
