package lease_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/lease"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/sandboxtest"
	"github.com/keyrotator/iam-access-key-rotator/sim/awsmodel"
)

const account = "111122223333"

// exercise runs the lease's life against an S3: taken, refused to another run, taken back
// by a retry of its own run, released, taken over once expired, and an unreadable lease
// replaced.
func exercise(t *testing.T, api lease.S3API, now *time.Time) {
	ctx := context.Background()
	l := &lease.Leases{S3: api, Bucket: "reports", TTL: 20 * time.Minute, Clock: func() time.Time { return *now }}

	release, err := l.Acquire(ctx, account, "run-a")
	if err != nil {
		t.Fatalf("a free account: %v", err)
	}
	var busy *lease.Busy
	if _, err := l.Acquire(ctx, account, "run-b"); !errors.As(err, &busy) || busy.Holder != "run-a" {
		t.Fatalf("another run while run-a holds it: %v, want Busy by run-a", err)
	}
	if _, err := l.Acquire(ctx, account, "run-a"); err != nil {
		t.Fatalf("a retry of run-a: %v", err)
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, account, "run-b"); err != nil {
		t.Fatalf("after the release: %v", err)
	}
	*now = now.Add(21 * time.Minute) // run-b's Lambda died without releasing
	if _, err := l.Acquire(ctx, account, "run-c"); err != nil {
		t.Fatalf("after run-b's lease expired: %v", err)
	}
	if _, err := api.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("reports"), Key: aws.String(workflow.LeaseKey(account)),
		Body: strings.NewReader("not json")}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(ctx, account, "run-d"); err != nil {
		t.Fatalf("over an unreadable lease: %v", err)
	}
}

func TestLeaseOnTheModel(t *testing.T) {
	now := time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)
	w := awsmodel.New(func() time.Time { return now }, 1)
	w.CreateBucket("reports")
	exercise(t, w.S3(), &now)
}

// TestLeaseOnTheStandIn: the same life over the wire against moto, whose S3 honours
// If-None-Match and If-Match as AWS does.
func TestLeaseOnTheStandIn(t *testing.T) {
	sb := sandboxtest.New(t, nil)
	client := s3.NewFromConfig(sb.Config(), awsclient.PathStyle)
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("reports")}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	exercise(t, client, &now)
}

// TestOnceTellsOneCallerOnly: of every run asking for the same name, one is told true, while
// the account's lease is held or not; another name, or another account, is another record.
func TestOnceTellsOneCallerOnly(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)
	w := awsmodel.New(func() time.Time { return now }, 1)
	w.CreateBucket("reports")
	l := &lease.Leases{S3: w.S3(), Bucket: "reports", Clock: func() time.Time { return now }}
	release, err := l.Acquire(ctx, account, "run-a")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, false} {
		if first, err := l.Once(ctx, account, "TagsFull/alice/2026-11-29"); first != want || err != nil {
			t.Errorf("call %d: %v, %v; want %v", i+1, first, err, want)
		}
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if first, _ := l.Once(ctx, account, "TagsFull/alice/2026-11-29"); first {
		t.Error("after the lease's release, the record is told true again")
	}
	if first, _ := l.Once(ctx, account, "TagsFull/alice/2026-11-30"); !first {
		t.Error("the next day's record is not new")
	}
	if first, _ := l.Once(ctx, "444455556666", "TagsFull/alice/2026-11-29"); !first {
		t.Error("another account's record is not new")
	}
	if _, err := l.Acquire(ctx, account, "run-b"); err != nil {
		t.Errorf("the records keep the account's lease from being taken: %v", err)
	}
}

// TestLeaseRetriesAConditionalWriteConflict: S3 answers a conditional write that races
// another operation on the key with 409 ConditionalRequestConflict, and asks the writer to
// retry (for If-Match, after reading the ETag again). The lease retries it, taking a free
// account and taking over an expired lease, instead of failing the account.
func TestLeaseRetriesAConditionalWriteConflict(t *testing.T) {
	now := time.Date(2026, 11, 29, 13, 0, 0, 0, time.UTC)
	w := awsmodel.New(func() time.Time { return now }, 1)
	w.CreateBucket("reports")
	conflicts := 0
	w.Inject = func(c awsmodel.Call) awsmodel.Fault {
		if c.Operation == "PutObject" && conflicts < 2 {
			conflicts++
			return awsmodel.Conflict
		}
		return awsmodel.None
	}
	l := &lease.Leases{S3: w.S3(), Bucket: "reports", Clock: func() time.Time { return now }, Sleep: func(time.Duration) {}}
	if _, err := l.Acquire(context.Background(), account, "run-a"); err != nil {
		t.Fatalf("a free account, two conflicts: %v", err)
	}
	now = now.Add(21 * time.Minute) // run-a's Lambda died
	conflicts = 1                   // the take-over's If-Match write meets one conflict
	if _, err := l.Acquire(context.Background(), account, "run-b"); err != nil {
		t.Fatalf("over an expired lease, a conflict: %v", err)
	}
	conflicts = -100 // conflicts never end: the account is busy, not failed
	var busy *lease.Busy
	if _, err := l.Acquire(context.Background(), account, "run-c"); !errors.As(err, &busy) {
		t.Fatalf("conflicts on every attempt: %v, want Busy", err)
	}
}
