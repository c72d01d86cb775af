// Package hold keeps the operators' holds on IAM users' keys: placed and released by an
// execution's input (workflow.HoldRequest, so only those who may start executions can), kept
// in the report bucket (workflow.HoldsKey), never in a tag that anyone with iam:TagUser could
// write. While a hold holds (through its Until day, never past it) no rule but rule 2
// deactivates or deletes a key of its user (policy.User.Hold); the run that places it may make
// the user's key active again (Reactivate).
package hold

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/policy"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Hold is one operator's hold as recorded: who placed it (the execution; its starter is the
// principal of CloudTrail's StartExecution event for that execution), when, why, until when,
// and whether and by whom it was released. A release ends the hold with the day of the run
// that releases it (Until becomes that day): the rules apply again the next day, and the
// owner, told by that run, is never told a day the rotator does not keep.
type Hold struct {
	Account     string `json:"account"`
	User        string `json:"user"`
	AccessKeyID string `json:"accessKeyId,omitempty"`
	// Until is the hold's last day (YYYY-MM-DD): the rules apply again the day after.
	Until string `json:"until"`
	// Asked is the last day the placing input asked for, when a release ended it earlier.
	Asked      string `json:"asked,omitempty"`
	Reason     string `json:"reason"`
	Reactivate bool   `json:"reactivate,omitempty"`
	// PlacedBy is the execution (run ID) whose input placed the hold, PlacedAt its start.
	PlacedBy string    `json:"placedBy"`
	PlacedAt time.Time `json:"placedAt"`
	// ReleasedBy and ReleasedAt are set once an execution's input released the hold.
	ReleasedBy string     `json:"releasedBy,omitempty"`
	ReleasedAt *time.Time `json:"releasedAt,omitempty"`
}

// Policy is the hold as the rules see it.
func (h Hold) Policy() *policy.Hold {
	until, _ := time.Parse(time.DateOnly, h.Until)
	asked, _ := time.Parse(time.DateOnly, h.Asked)
	return &policy.Hold{Until: until, Reason: h.Reason, Asked: asked}
}

// Holds reports whether the hold may hold on now's day: its last day, or the one its
// placing asked for before a release (which holds until the release's notice reached the
// owner, policy.Hold.Holds), is not past.
func (h Hold) Holds(now time.Time) bool {
	last := max(h.Until, h.Asked)
	return now.UTC().Format(time.DateOnly) <= last
}

// Changed reports whether the run runID placed or released the hold: its owner is told.
func (h Hold) Changed(runID string) bool { return h.PlacedBy == runID || h.ReleasedBy == runID }

// Book is every hold recorded: the content of workflow.HoldsKey.
type Book struct {
	Holds []Hold `json:"holds"`
}

// For returns the hold that holds the user's keys on now's day.
func (b Book) For(account, user string, now time.Time) (Hold, bool) {
	for _, h := range b.Holds {
		if h.Account == account && h.User == user && h.Holds(now) {
			return h, true
		}
	}
	return Hold{}, false
}

// Active lists the holds that hold on now's day, by account and user.
func (b Book) Active(now time.Time) []Hold {
	var out []Hold
	for _, h := range b.Holds {
		if h.Holds(now) {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b Hold) int { return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.User, b.User)) })
	return out
}

// Account is the account's holds that hold on now's day, by user name (of a user held twice,
// the one placed last).
func (b Book) Account(account string, now time.Time) map[string]Hold {
	out := map[string]Hold{}
	for _, h := range b.Active(now) {
		if o, ok := out[h.User]; h.Account == account && (!ok || h.PlacedAt.After(o.PlacedAt)) {
			out[h.User] = h
		}
	}
	return out
}

// Kept is how long a hold's record stays in the book after its last day: the reports of
// the runs since name it.
const Kept = 90 * 24 * time.Hour

// Apply places the run's holds and releases the users its input names: a new hold of a user
// ends the user's earlier one (which is kept as released); records ended more than Kept ago
// are dropped. It is idempotent for a retry of the same run.
func (b *Book) Apply(run workflow.Run, holds []workflow.HoldRequest, releases []workflow.ReleaseRequest) {
	today := run.Now.UTC().Format(time.DateOnly)
	// end releases the user's holds placed by other runs; replaced by a new hold (whose own
	// email tells the owner its day), an earlier release's day first asked no longer holds.
	end := func(account, user string, replaced bool) {
		for i := range b.Holds {
			h := &b.Holds[i]
			if h.Account != account || h.User != user || h.PlacedBy == run.RunID {
				continue
			}
			if h.Until >= today && h.ReleasedAt == nil {
				at := run.Now
				h.ReleasedBy, h.ReleasedAt = run.RunID, &at
				if h.Until > today {
					h.Asked, h.Until = h.Until, today
				}
			}
			if replaced && h.Asked != "" {
				h.Asked = ""
			}
		}
	}
	for _, r := range releases {
		end(r.Account, r.User, false)
	}
	for _, req := range holds {
		end(req.Account, req.User, true)
		if slices.ContainsFunc(b.Holds, func(h Hold) bool { return h.PlacedBy == run.RunID && h.Account == req.Account && h.User == req.User }) {
			continue // a retry of the same run
		}
		b.Holds = append(b.Holds, Hold{Account: req.Account, User: req.User, AccessKeyID: req.AccessKeyID, Until: req.Until, Reason: req.Reason,
			Reactivate: req.Reactivate, PlacedBy: run.RunID, PlacedAt: run.Now})
	}
	b.Holds = slices.DeleteFunc(b.Holds, func(h Hold) bool { return run.Now.Sub(h.Policy().Ends()) > Kept })
}

// S3API is the part of S3 the book needs.
type S3API interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// Store reads and writes the book in the report bucket.
type Store struct {
	S3     S3API
	Bucket string
}

// Read returns the book and its ETag; an empty book (nil ETag) when there is none yet (the
// reader needs s3:ListBucket on the key for S3 to say so rather than AccessDenied). Any
// other error is returned: a run that cannot read the holds must not act against one.
func (s Store) Read(ctx context.Context) (Book, *string, error) {
	out, err := s.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: aws.String(workflow.HoldsKey)})
	var missing *s3types.NoSuchKey
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &missing), errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey":
		return Book{}, nil, nil
	case err != nil:
		return Book{}, nil, fmt.Errorf("read the holds s3://%s/%s: %w", s.Bucket, workflow.HoldsKey, err)
	}
	defer out.Body.Close()
	raw, err := io.ReadAll(out.Body)
	if err != nil {
		return Book{}, nil, fmt.Errorf("read the holds s3://%s/%s: %w", s.Bucket, workflow.HoldsKey, err)
	}
	var b Book
	if err := json.Unmarshal(raw, &b); err != nil {
		return Book{}, nil, fmt.Errorf("the holds s3://%s/%s are not a valid record: %w", s.Bucket, workflow.HoldsKey, err)
	}
	return b, out.ETag, nil
}

// Update applies change to the book and writes it on condition that nobody wrote it since it
// was read (If-Match, or If-None-Match for a new book), reading again when S3 answers 412 or
// 409, a few times.
func (s Store) Update(ctx context.Context, change func(*Book)) (Book, error) {
	for attempt := 1; ; attempt++ {
		b, etag, err := s.Read(ctx)
		if err != nil {
			return Book{}, err
		}
		change(&b)
		body, err := json.Marshal(b)
		if err != nil {
			return Book{}, fmt.Errorf("encode the holds: %w", err)
		}
		in := &s3.PutObjectInput{Bucket: &s.Bucket, Key: aws.String(workflow.HoldsKey), Body: bytes.NewReader(body), ContentType: aws.String("application/json")}
		if etag != nil {
			in.IfMatch = etag
		} else {
			in.IfNoneMatch = aws.String("*")
		}
		_, err = s.S3.PutObject(ctx, in)
		var apiErr smithy.APIError
		if err == nil || !errors.As(err, &apiErr) || (apiErr.ErrorCode() != "PreconditionFailed" && apiErr.ErrorCode() != "ConditionalRequestConflict") || attempt == 4 {
			if err != nil {
				return Book{}, fmt.Errorf("write the holds s3://%s/%s: %w", s.Bucket, workflow.HoldsKey, err)
			}
			return b, nil
		}
	}
}
