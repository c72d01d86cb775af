package workflow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda/messages"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func TestParseExecutionInput(t *testing.T) {
	asOf := time.Date(2027, 1, 1, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		raw       string
		want      ExecutionInput
		wantField string
	}{
		{"schedule's empty object", `{}`, ExecutionInput{}, ""},
		{"null is the empty input", `null`, ExecutionInput{}, ""},
		{"one account", `{"accounts":["111122223333"]}`, ExecutionInput{Accounts: []string{"111122223333"}}, ""},
		{"dry run as of a day", `{"dryRun":true,"asOf":"2027-01-01T13:00:00Z"}`, ExecutionInput{DryRun: true, AsOf: &asOf}, ""},
		{"cleanup, confirmed", `{"cleanup":true,"confirmCleanup":"` + CleanupConfirmation + `","dryRun":false}`, ExecutionInput{Cleanup: true}, ""},
		{"cleanup previewed", `{"cleanup":true,"dryRun":true}`, ExecutionInput{Cleanup: true, DryRun: true}, ""},
		{"cleanup off", `{"cleanup":false}`, ExecutionInput{}, ""},
		{"typo in a field name", `{"acounts":[]}`, ExecutionInput{}, "acounts"},
		{"short account ID", `{"accounts":["12345"]}`, ExecutionInput{}, "accounts[0]"},
		{"account ID as a number", `{"accounts":[111122223333]}`, ExecutionInput{}, "accounts"},
		{"duplicate account", `{"accounts":["111122223333","111122223333"]}`, ExecutionInput{}, "accounts[1]"},
		{"empty account list", `{"accounts":[]}`, ExecutionInput{}, "accounts"},
		{"dryRun as a string", `{"dryRun":"yes"}`, ExecutionInput{}, "dryRun"},
		{"asOf without dryRun", `{"asOf":"2027-01-01T13:00:00Z"}`, ExecutionInput{}, "asOf"},
		{"malformed asOf", `{"dryRun":true,"asOf":"tomorrow"}`, ExecutionInput{}, "asOf"},
		{"not an object", `["111122223333"]`, ExecutionInput{}, "(document)"},
		{"not JSON", `{`, ExecutionInput{}, "(document)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseExecutionInput([]byte(tt.raw))
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
				return
			}
			var invalid *InvalidInput
			if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
				t.Fatalf("error %v (%T), want *InvalidInput for field %s", err, err, tt.wantField)
			}
			if name := lambdaErrorType(ForLambda(err)); name != ErrInvalidInput {
				t.Errorf("Lambda error type %s, want InvalidInput", name)
			}
		})
	}
}

// TestExecutionInputMeansWhatItSays: inputs that encoding/json would
// read as something other than they say, and a cleanup nobody confirmed. Each is an
// InvalidInput naming the field; ListAccounts returns it before any read or write.
func TestExecutionInputMeansWhatItSays(t *testing.T) {
	tests := []struct {
		name, raw, wantField, wantText string
	}{
		{"dryRun null is not a real run", `{"dryRun":null}`, "dryRun", "must not be null"},
		{"accounts null is not the whole organization", `{"accounts":null}`, "accounts", "must not be null"},
		{"DRYRUN does not override dryRun", `{"dryRun":true,"DRYRUN":false}`, "DRYRUN", `did you mean "dryRun"`},
		{"dryRun twice", `{"dryRun":true,"dryRun":false}`, "dryRun", "appears twice"},
		{"cleanup null", `{"cleanup":null}`, "cleanup", "must not be null"},
		{"asOf null", `{"dryRun":true,"asOf":null}`, "asOf", "must not be null"},
		{"an account ID null", `{"accounts":["111122223333",null]}`, "accounts[1]", "must not be null"},
		{"cleanup without confirmation", `{"cleanup":true}`, "cleanup", `"confirmCleanup"`},
		{"cleanup with a wrong confirmation", `{"cleanup":true,"confirmCleanup":"yes"}`, "confirmCleanup", CleanupConfirmation},
		{"confirmation without cleanup", `{"confirmCleanup":"` + CleanupConfirmation + `"}`, "confirmCleanup", `only allowed with "cleanup": true`},
		{"confirmation with cleanup false", `{"cleanup":false,"confirmCleanup":"` + CleanupConfirmation + `"}`, "confirmCleanup", `only allowed with "cleanup": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := ParseExecutionInput([]byte(tt.raw))
			var invalid *InvalidInput
			if !errors.As(err, &invalid) || invalid.Field != tt.wantField {
				t.Fatalf("got %+v, error %v (%T); want *InvalidInput for field %s", in, err, err, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q, want one containing %q", err, tt.wantText)
			}
			if name := lambdaErrorType(ForLambda(err)); name != ErrInvalidInput {
				t.Errorf("Lambda error type %s, want InvalidInput", name)
			}
		})
	}
}

func TestForLambdaNamesErrors(t *testing.T) {
	throttled := &smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}
	tests := []struct {
		name     string
		err      error
		wantType string
	}{
		{"throttling, wrapped", fmt.Errorf("list users in 111122223333: %w", throttled), "RetryableError"},
		{"access denied", fmt.Errorf("assume role: %w", denied), "FatalError"},
		{"deadline", fmt.Errorf("generate report: wait: %w", context.DeadlineExceeded), "RetryableError"},
		{"invalid input wrapped", fmt.Errorf("list accounts: %w", &InvalidInput{Field: "accounts[0]", Problem: "unknown account"}), "InvalidInput"},
		{"already named", &RetryableError{Err: errors.New("x")}, "RetryableError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ForLambda(tt.err)
			if name := lambdaErrorType(got); name != tt.wantType {
				t.Errorf("type %s, want %s", name, tt.wantType)
			}
			if !strings.Contains(got.Error(), strings.SplitN(tt.err.Error(), ":", 2)[0]) {
				t.Errorf("message %q lost the context of %q", got, tt.err)
			}
		})
	}
	if ForLambda(nil) != nil {
		t.Error("ForLambda(nil) must be nil")
	}
}

// lambdaErrorType is the errorType aws-lambda-go reports for err: the Type of a
// messages.InvokeResponse_Error, else the Go type's name.
func lambdaErrorType(err error) string {
	if ire, ok := err.(messages.InvokeResponse_Error); ok {
		return ire.Type
	}
	return reflect.TypeOf(err).Elem().Name()
}

// TestRetryableIsTheSDKsClassificationWithItsExceptions: what the SDK's standard retryer
// retries is retryable, and so are the documented additions; what it refuses is not.
func TestRetryableIsTheSDKsClassificationWithItsExceptions(t *testing.T) {
	status := func(code int, apiErr error) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: apiErr}}
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"SDK: a throttling code", &smithy.GenericAPIError{Code: "TooManyRequestsException"}, true},
		{"SDK: a 503", status(503, &smithy.GenericAPIError{Code: "ServiceUnavailable"}), true},
		{"SDK: a request timeout code", &smithy.GenericAPIError{Code: "RequestTimeout"}, true},
		{"SDK: a connection reset", fmt.Errorf("send: %w", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}), true},
		{"SDK: access denied", status(403, &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}), false},
		{"SDK: IAM's LimitExceeded (a quota, not a rate)", status(409, &smithy.GenericAPIError{Code: "LimitExceeded", Fault: smithy.FaultClient}), false},
		{"SDK: a canceled request", &smithy.CanceledError{Err: context.Canceled}, false},
		{"addition: the rotator's own RetryableError", fmt.Errorf("lease: %w", &RetryableError{Err: errors.New("held by this execution's retry")}), true},
		{"addition: a server fault without its status", &smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, true},
		{"addition: the invocation's deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), true},
	}
	for _, tt := range tests {
		if got := IsRetryable(tt.err); got != tt.want {
			t.Errorf("%s: IsRetryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}
