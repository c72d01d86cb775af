package org

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/keyrotator/iam-access-key-rotator/pkg/hold"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

func (f *fakeS3) GetObject(_ context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	b, ok := f.objects[*in.Bucket+"/"+*in.Key]
	if !ok {
		return nil, &s3types.NoSuchKey{}
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(b))}, nil
}

// TestHoldInputIsRecordedOrRefusedWithNothingWritten: ListAccounts records a hold in the
// report bucket with the execution that placed it; a hold past 2 × noticePeriod days, or on
// an account the run does not process, is refused with InvalidInput and nothing is written.
func TestHoldInputIsRecordedOrRefusedWithNothingWritten(t *testing.T) {
	start := time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC)
	accounts := []orgtypes.Account{account("111122223333", "prod", orgtypes.AccountStateActive), account("222222222222", "dev", orgtypes.AccountStateActive)}
	handler := func(store *fakeS3) *Handler {
		return &Handler{Org: &fakeOrg{accounts: accounts}, S3: store, Bucket: "reports", Excluded: []string{"222222222222"},
			Log: slog.New(slog.DiscardHandler), SendRate: oneASecond, Holds: &hold.Store{S3: store, Bucket: "reports"}, NoticePeriod: 10}
	}
	run := func(store *fakeS3, input string) error {
		_, err := handler(store).Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(input), RunID: "run-1", StartTime: start})
		return err
	}
	store := &fakeS3{objects: map[string][]byte{}}
	if err := run(store, `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-20","reason":"INC-4711","reactivate":true}]}`); err != nil {
		t.Fatal(err)
	}
	var b hold.Book
	if err := json.Unmarshal(store.objects["reports/"+workflow.HoldsKey], &b); err != nil {
		t.Fatalf("holds in S3: %v", err)
	}
	if h, ok := b.For("111122223333", "ci-bot", start); !ok || h.PlacedBy != "run-1" || !h.PlacedAt.Equal(start) || h.Reason != "INC-4711" || !h.Reactivate {
		t.Errorf("hold %+v (found %v), want placed by run-1 at the run's start, INC-4711, reactivate", h, ok)
	}
	for _, tt := range []struct{ name, input, field string }{
		{"beyond 2 × noticePeriod", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-28","reason":"x"}]}`, "hold[0].until"},
		{"in the past", `{"hold":[{"account":"111122223333","user":"ci-bot","until":"2026-12-06","reason":"x"}]}`, "hold[0].until"},
		{"excluded account", `{"hold":[{"account":"222222222222","user":"ci-bot","until":"2026-12-10","reason":"x"}]}`, "hold[0].account"},
		{"release in an unknown account", `{"release":[{"account":"333333333333","user":"ci-bot"}]}`, "release[0].account"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeS3{objects: map[string][]byte{}}
			refused(t, run(store, tt.input), store, tt.field, "")
		})
	}
}
