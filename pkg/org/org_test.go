package org

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// fakeOrg serves accounts one per page.
type fakeOrg struct {
	accounts []orgtypes.Account
	calls    int
}

var _ organizations.ListAccountsAPIClient = (*fakeOrg)(nil)

func (f *fakeOrg) ListAccounts(_ context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	f.calls++
	i := 0
	if in.NextToken != nil {
		i = int((*in.NextToken)[0] - '0')
	}
	out := &organizations.ListAccountsOutput{Accounts: f.accounts[i : i+1]}
	if i+1 < len(f.accounts) {
		out.NextToken = aws.String(string(rune('0' + i + 1)))
	}
	return out, nil
}

type fakeS3 struct{ objects map[string][]byte }

var _ S3API = (*fakeS3)(nil)

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	b, err := io.ReadAll(in.Body)
	f.objects[*in.Bucket+"/"+*in.Key] = b
	return &s3.PutObjectOutput{}, err
}

// account is an account as Organizations lists it since 2026-09-09: with State and
// without the retired Status.
func account(id, name string, state orgtypes.AccountState) orgtypes.Account {
	return orgtypes.Account{Id: aws.String(id), Name: aws.String(name), State: state}
}

func TestHandle(t *testing.T) {
	start := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		input     string
		wantIDs   []string
		wantField string
		wantNow   time.Time
	}{
		{"all but excluded and not active", `{}`, []string{"111111111111", "333333333333"}, "", start},
		{"one account", `{"accounts":["333333333333"]}`, []string{"333333333333"}, "", start},
		{"dry run as of", `{"dryRun":true,"asOf":"2027-02-01T13:00:00Z"}`, []string{"111111111111", "333333333333"}, "", time.Date(2027, 2, 1, 13, 0, 0, 0, time.UTC)},
		{"excluded account requested", `{"accounts":["222222222222"]}`, nil, "accounts[0]", start},
		{"suspended account requested", `{"accounts":["111111111111","444444444444"]}`, nil, "accounts[1]", start},
		{"closing account requested", `{"accounts":["555555555555"]}`, nil, "accounts[0]", start},
		{"closed account requested", `{"accounts":["666666666666"]}`, nil, "accounts[0]", start},
		{"unknown account requested", `{"accounts":["999999999999"]}`, nil, "accounts[0]", start},
		{"typo", `{"acounts":["111111111111"]}`, nil, "acounts", start},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := &fakeOrg{accounts: []orgtypes.Account{
				account("333333333333", "prod", orgtypes.AccountStateActive),
				account("111111111111", "dev", orgtypes.AccountStateActive),
				account("222222222222", "legacy", orgtypes.AccountStateActive),
				account("444444444444", "suspended", orgtypes.AccountStateSuspended),
				account("555555555555", "closing", orgtypes.AccountStatePendingClosure),
				account("666666666666", "closed", orgtypes.AccountStateClosed),
				account("777777777777", "joining", orgtypes.AccountStatePendingActivation),
			}}
			store := &fakeS3{objects: map[string][]byte{}}
			l := &Lister{Org: org, S3: store, Bucket: "reports", Excluded: []string{"222222222222"}, Log: slog.New(slog.DiscardHandler),
				SendRate: func(context.Context) (int, error) { return 3, nil }}
			got, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(tt.input), RunID: "run-1", StartTime: start})
			if tt.wantField != "" {
				var invalid *workflow.InvalidInput
				if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
					t.Fatalf("error %v, want InvalidInput for %s", err, tt.wantField)
				}
				if len(store.objects) != 0 {
					t.Errorf("invalid input wrote %v", store.objects)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var stored []workflow.Account
			if err := json.Unmarshal(store.objects["reports/runs/run-1/accounts.json"], &stored); err != nil {
				t.Fatalf("account list in S3: %v", err)
			}
			var ids []string
			for _, a := range stored {
				ids = append(ids, a.AccountID)
			}
			if !slices.Equal(ids, tt.wantIDs) || got.AccountCount != len(tt.wantIDs) || got.Key != "runs/run-1/accounts.json" || !got.Run.Now.Equal(tt.wantNow) ||
				got.Run.SendRate != 3 {
				t.Errorf("got %+v with accounts %v, want %v at %v", got, ids, tt.wantIDs, tt.wantNow)
			}
			if org.calls != 7 {
				t.Errorf("%d ListAccounts calls, want every page (7)", org.calls)
			}
		})
	}
}

// TestHandleWithoutSendRate: a run whose send rate cannot be read (GetAccount refused) fails
// before it lists or writes anything.
func TestHandleWithoutSendRate(t *testing.T) {
	org, store := &fakeOrg{}, &fakeS3{objects: map[string][]byte{}}
	l := &Lister{Org: org, S3: store, Log: slog.New(slog.DiscardHandler),
		SendRate: func(context.Context) (int, error) { return 0, errors.New("read the SES send quota: AccessDenied") }}
	_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "r", StartTime: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "SES send quota") || org.calls != 0 || len(store.objects) != 0 {
		t.Errorf("error %v after %d ListAccounts calls and %d objects written, want the quota's error before any", err, org.calls, len(store.objects))
	}
}

func TestHandleValidatesBeforeCallingAWS(t *testing.T) {
	org := &fakeOrg{}
	l := &Lister{Org: org, S3: &fakeS3{objects: map[string][]byte{}}, Log: slog.New(slog.DiscardHandler)}
	_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{"accounts":["12345"]}`), RunID: "r"})
	var invalid *workflow.InvalidInput
	if !errors.As(err, &invalid) || org.calls != 0 {
		t.Errorf("error %v after %d AWS calls, want InvalidInput before any", err, org.calls)
	}
}

// TestHandleFailsWhenNoAccountIsSelected: a run that would rotate no account at all (every
// account filtered out, say because Organizations answers in a shape the filter does not
// expect) must reach the operators through the ASL's Catch and SNS, not pass as a success.
func TestHandleFailsWhenNoAccountIsSelected(t *testing.T) {
	tests := []struct {
		name     string
		accounts []orgtypes.Account
		excluded []string
		wantErr  string
	}{
		{"Status only, no State (the retired field)", []orgtypes.Account{
			{Id: aws.String("111111111111"), Name: aws.String("dev"), Status: orgtypes.AccountStatusActive},
		}, nil, "no account to rotate: 1 listed, 0 ACTIVE (not ACTIVE: 1 with no State)"},
		{"all suspended or closed", []orgtypes.Account{
			account("111111111111", "dev", orgtypes.AccountStateSuspended),
			account("222222222222", "prod", orgtypes.AccountStateClosed),
		}, nil, "no account to rotate: 2 listed, 0 ACTIVE (not ACTIVE: 1 CLOSED, 1 SUSPENDED)"},
		{"every active account excluded", []orgtypes.Account{
			account("111111111111", "dev", orgtypes.AccountStateActive),
		}, []string{"111111111111"}, "no account to rotate: 1 listed, 1 ACTIVE, all 1 excluded (EXCLUDE_ACCOUNTS)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeS3{objects: map[string][]byte{}}
			l := &Lister{Org: &fakeOrg{accounts: tt.accounts}, S3: store, Bucket: "reports", Excluded: tt.excluded, Log: slog.New(slog.DiscardHandler),
				SendRate: func(context.Context) (int, error) { return 1, nil }}
			_, err := l.Handle(context.Background(), workflow.ListAccountsRequest{Input: json.RawMessage(`{}`), RunID: "run-1", StartTime: time.Now()})
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			var invalid *workflow.InvalidInput
			if errors.As(err, &invalid) || workflow.IsRetryable(err) {
				t.Errorf("error %T is input or retryable; want a fatal error for the Catch", err)
			}
			if len(store.objects) != 0 {
				t.Errorf("an empty run wrote %v", store.objects)
			}
		})
	}
}
