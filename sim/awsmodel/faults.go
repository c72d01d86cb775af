package awsmodel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Call is one call made through a client: the service ("IAM", "Secrets Manager", "SESv2",
// "S3", the SDK's service IDs), the operation ("CreateAccessKey"), the account it acts in
// and the input (the SDK's *XInput).
type Call struct {
	Service, Operation, Account string
	Input                       any
	// NoSDKRetry is set when the caller turned the SDK's retries off for this call
	// (RetryMaxAttempts 1): a lost response is then not re-sent (Retried acts as LostResponse).
	NoSDKRetry bool
}

// Writes reports whether the call changes state when it takes effect: the calls whose
// response can be lost after the write happened.
func (c Call) Writes() bool {
	return writeOps[c.Operation] || c.Service == "GitHub" && strings.HasPrefix(c.Operation, "PUT ")
}

// writeOps are the operations of the clients that change state.
var writeOps = map[string]bool{
	"CreateAccessKey": true, "UpdateAccessKey": true, "DeleteAccessKey": true,
	"TagUser": true, "UntagUser": true, "GenerateCredentialReport": true,
	"CreateSecret": true, "PutSecretValue": true, "DeleteSecret": true, "RestoreSecret": true, "TagResource": true, "UntagResource": true,
	"SendEmail": true, "PutObject": true, "DeleteObject": true, "PutParameter": true,
}

func (c Call) String() string {
	if c.Account == "" {
		return c.Service + " " + c.Operation
	}
	return c.Service + " " + c.Operation + " in " + c.Account
}

// Fault is what happens to one call.
type Fault int

// The faults. Each error is the one the SDK returns once its own retries are spent, and
// pkg/workflow.IsRetryable recognises each.
const (
	// None: the call runs as AWS would run it.
	None Fault = iota
	// Throttle: no effect; a Throttling error (the service's own code: Throttling,
	// ThrottlingException, TooManyRequestsException, SlowDown).
	Throttle
	// ServerError: no effect; an HTTP 500 (ServiceFailure, InternalServiceError, ...).
	ServerError
	// LostResponse: the effect happens, then the response is lost: a timeout error
	// wrapping context.DeadlineExceeded.
	LostResponse
	// Retried: the response is lost after the effect happened and the SDK's retryer sends
	// the same request again (same input, same idempotency token): the effect is
	// attempted twice and the second outcome is returned, e.g. NoSuchEntity from a
	// repeated DeleteAccessKey or a second key from a repeated CreateAccessKey.
	Retried
	// CrashBefore: no effect; the client panics with Crash{Call}: the Lambda died before
	// the call reached AWS.
	CrashBefore
	// Conflict: for a conditional S3 write (PutObject with If-None-Match or If-Match), no
	// effect and 409 ConditionalRequestConflict: a conflicting operation on the key raced
	// it (the S3 API reference: "On a 409 failure you should retry the upload"; the SDK
	// does not). Any other call runs as with None.
	Conflict
)

var faultNames = [...]string{None: "ok", Throttle: "throttle", ServerError: "5xx",
	LostResponse: "lost-response", Retried: "retried", CrashBefore: "crash", Conflict: "s3-conditional-conflict"}

// conditionalWrite reports whether c is an S3 write with a precondition.
func conditionalWrite(c Call) bool {
	in, ok := c.Input.(*s3.PutObjectInput)
	return ok && (in.IfNoneMatch != nil || in.IfMatch != nil)
}

func (f Fault) String() string {
	if f < 0 || int(f) >= len(faultNames) {
		return fmt.Sprintf("Fault(%d)", int(f))
	}
	return faultNames[f]
}

// Crash is the value a client panics with for the CrashBefore fault.
type Crash struct{ Call Call }

func (c Crash) String() string { return "simulated crash before " + c.Call.String() }

// httpError is a service error with the HTTP status AWS answers it with; wrap turns it
// into the error chain the SDK returns.
type httpError struct {
	status int
	err    error
}

func (e *httpError) Error() string { return e.err.Error() }

func fail(status int, err error) error { return &httpError{status: status, err: err} }

// generic is an error the SDK has no typed exception for (S3's PreconditionFailed, IAM's
// ValidationError, Throttling).
func generic(status int, code, message string) error {
	return fail(status, &smithy.GenericAPIError{Code: code, Message: message, Fault: faultOf(status)})
}

func faultOf(status int) smithy.ErrorFault {
	if status >= 500 {
		return smithy.FaultServer
	}
	return smithy.FaultClient
}

// wrap gives a service error the SDK's shape: OperationError → ResponseError (status,
// request ID) → the typed exception.
func (w *World) wrap(c Call, err error) error {
	var he *httpError
	if !errors.As(err, &he) {
		return &smithy.OperationError{ServiceID: c.Service, OperationName: c.Operation, Err: err}
	}
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: he.status, Status: http.StatusText(he.status)}}
	return &smithy.OperationError{ServiceID: c.Service, OperationName: c.Operation, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: resp, Err: he.err},
		RequestID:     w.requestID(),
	}}
}

// The per-service codes of the two transient faults.
var (
	throttleCodes = map[string]struct {
		status int
		code   string
	}{
		serviceIAM: {400, "Throttling"}, serviceSecrets: {400, "ThrottlingException"},
		serviceSES: {429, "TooManyRequestsException"}, serviceS3: {503, "SlowDown"},
		serviceOrganizations: {400, "TooManyRequestsException"}, serviceSSM: {400, "ThrottlingException"},
	}
	serverCodes = map[string]string{
		serviceIAM: "ServiceFailure", serviceSecrets: "InternalServiceError",
		serviceSES: "InternalServiceErrorException", serviceS3: "InternalError",
		serviceOrganizations: "ServiceException", serviceSSM: "InternalServerError",
	}
)

// sdkAttempts is how many attempts the SDK's standard retryer makes before it gives up.
const sdkAttempts = 3

func (w *World) faultError(c Call, f Fault) error {
	switch f {
	case Throttle:
		t := throttleCodes[c.Service]
		return w.spent(c, fail(t.status, &smithy.GenericAPIError{Code: t.code, Message: "Rate exceeded", Fault: smithy.FaultClient}))
	case ServerError:
		return w.spent(c, generic(http.StatusInternalServerError, serverCodes[c.Service], "We encountered an internal error. Please try again."))
	default: // LostResponse
		host := "https://" + strings.ToLower(strings.ReplaceAll(c.Service, " ", "")) + ".amazonaws.com/"
		return &smithy.OperationError{ServiceID: c.Service, OperationName: c.Operation, Err: &smithyhttp.RequestSendError{
			Err: &url.Error{Op: "Post", URL: host, Err: context.DeadlineExceeded}}}
	}
}

// spent wraps a transient error as the SDK does once its retries are exhausted.
func (w *World) spent(c Call, err error) error {
	wrapped := w.wrap(c, err).(*smithy.OperationError)
	wrapped.Err = &retry.MaxAttemptsError{Attempt: sdkAttempts, Err: wrapped.Err}
	return wrapped
}

// do runs one client call: it asks Inject for a fault, applies the effect accordingly,
// records the call in Recent and tells Observe.
func do[O any](w *World, c Call, subject string, effect func() (*O, error)) (*O, error) {
	f := None
	if w.Inject != nil {
		f = w.Inject(c)
	}
	var out *O
	var err error
	if f == Retried && c.NoSDKRetry {
		f = LostResponse
	}
	if f == Conflict && !conditionalWrite(c) {
		f = None
	}
	switch f {
	case CrashBefore:
		w.record(c, subject, f, nil)
		panic(Crash{Call: c})
	case Throttle, ServerError:
		err = w.faultError(c, f)
	case Conflict:
		err = generic(http.StatusConflict, "ConditionalRequestConflict", "A conflicting conditional operation is currently in progress against this resource. Please try again.")
	case LostResponse:
		_, _ = effect() // the outcome never reaches the caller
		err = w.faultError(c, f)
	case Retried:
		_, _ = effect()
		out, err = effect()
	default:
		out, err = effect()
	}
	if err != nil {
		out = nil
		var opErr *smithy.OperationError
		if !errors.As(err, &opErr) {
			err = w.wrap(c, err)
		}
	}
	w.record(c, subject, f, err)
	if w.Observe != nil {
		w.Observe(c, out, err)
	}
	return out, err
}

// recentSize is how many calls Recent remembers.
const recentSize = 50

// entry is one remembered call, formatted only when Recent is read.
type entry struct {
	at      time.Time
	call    Call
	subject string
	fault   Fault
	err     error
}

func (w *World) record(c Call, subject string, f Fault, err error) {
	w.recent[w.calls%recentSize] = entry{at: w.now(), call: c, subject: subject, fault: f, err: err}
	w.calls++
}

// Calls returns how many calls were made through the clients.
func (w *World) Calls() int { return w.calls }

// Recent describes the last calls made through the clients, oldest first, one line each:
// time, operation, account, subject (user, key, secret or object), fault and outcome.
func (w *World) Recent() []string {
	n := min(w.calls, recentSize)
	lines := make([]string, 0, n)
	for i := w.calls - n; i < w.calls; i++ {
		e := w.recent[i%recentSize]
		outcome := "ok"
		if e.fault == CrashBefore {
			outcome = "crashed"
		} else if e.err != nil {
			outcome = errorCode(e.err)
		}
		line := fmt.Sprintf("%s %s %s", e.at.Format("2006-01-02T15:04:05Z"), e.call.Operation, e.call.Account)
		if e.subject != "" {
			line += " " + e.subject
		}
		if e.fault != None && e.fault != CrashBefore {
			line += " [" + e.fault.String() + "]"
		}
		lines = append(lines, line+" -> "+outcome)
	}
	return lines
}

// errorCode names an error briefly: its AWS error code, or "timeout".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return err.Error()
}
