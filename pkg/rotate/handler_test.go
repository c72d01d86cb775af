package rotate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// resultStore keeps the objects ScanAndRotate writes.
type resultStore map[string][]byte

func (r resultStore) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	body, err := io.ReadAll(in.Body)
	r[aws.ToString(in.Key)] = body
	return &s3.PutObjectOutput{}, err
}

// TestExcludedAccountGetsZeroWritesEvenWhenItsTagCannotBeRead: ScanAndRotate reads the
// account's exclusion tag before anything else there. A tagged account is reported excluded,
// and an account whose tag cannot be read is reported failed (fail closed): in neither is
// the member role assumed, a client built or the lease taken; only the account's result is
// written. A throttled read is returned, for the state machine to retry.
func TestExcludedAccountGetsZeroWritesEvenWhenItsTagCannotBeRead(t *testing.T) {
	throttled := &smithy.OperationError{ServiceID: "Organizations", OperationName: "ListTagsForResource",
		Err: &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}}
	tests := []struct {
		name      string
		read      func(context.Context, string) (string, error)
		status    workflow.AccountStatus
		want      string // in the result's Reason or Error
		retryable bool
	}{
		{name: "tagged", read: func(context.Context, string) (string, error) { return "it is tagged key-rotator:exclude=true", nil },
			status: workflow.AccountExcluded, want: "it is tagged key-rotator:exclude=true (EXCLUDE_ACCOUNT_TAG)"},
		{name: "tag read refused", read: func(context.Context, string) (string, error) {
			return "", errors.New("list the tags of account 111122223333 (EXCLUDE_ACCOUNT_TAG): AccessDenied")
		}, status: workflow.AccountFailed, want: "left alone: its exclusion tag could not be read: list the tags of account 111122223333 (EXCLUDE_ACCOUNT_TAG): AccessDenied"},
		{name: "tag read throttled", read: func(context.Context, string) (string, error) { return "", throttled }, retryable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := resultStore{}
			built := 0
			h := &Handler{Settings: config.Settings{ReportBucket: "reports", MemberRoleName: "provisioning-admin", Partition: "aws"},
				S3: store, Log: slog.New(slog.DiscardHandler), ExcludedByTag: tt.read,
				NewIAM: func(aws.Config) IAMAPI { built++; return nil }}
			req := workflow.AccountRequest{Run: workflow.Run{RunID: "run-1", Now: time.Now()}, Account: workflow.Account{AccountID: "111122223333", Name: "migrating"}}
			out, err := h.Handle(context.Background(), req)
			if built != 0 {
				t.Fatalf("the member account's IAM client was built %d times", built)
			}
			if tt.retryable {
				if !workflow.IsRetryable(err) || len(store) != 0 {
					t.Errorf("err %v, %d objects written; want the throttling returned, nothing written", err, len(store))
				}
				return
			}
			if err != nil || out.Status != tt.status || out.NotificationCount != 0 || len(store) != 1 {
				t.Fatalf("outcome %+v, %v, objects %v; want %s with its result only", out, err, store, tt.status)
			}
			var res workflow.AccountResult
			if err := json.Unmarshal(store[out.ResultKey], &res); err != nil {
				t.Fatal(err)
			}
			if res.Status != tt.status || !strings.Contains(res.Reason+res.Error, tt.want) || res.Counts.IAMCalls != 0 || len(res.Users) != 0 {
				t.Errorf("result %+v, want %s saying %q, no call in the account", res, tt.status, tt.want)
			}
		})
	}
}
