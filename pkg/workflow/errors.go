package workflow

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

// The names of the Lambdas' errors: ForLambda reports each error under one of them as its
// errorType (aws-lambda-go takes a messages.InvokeResponse_Error's Type as it is), and the
// ASL's Retry and Catch match them (statemachine.LambdaRetriedErrors; TestASLErrorNamesAreDeclared).
const (
	// ErrInvalidInput: bad execution input; nothing was read or written; never retried.
	ErrInvalidInput = "InvalidInput"
	// ErrRetryable: a failure that may pass on a later attempt (IsRetryable).
	ErrRetryable = "RetryableError"
	// ErrFatal: any other failure; another attempt cannot help.
	ErrFatal = "FatalError"
)

// InvalidInput is bad execution input: fail fast, nothing was read or written.
type InvalidInput struct {
	Field   string
	Problem string
}

func (e *InvalidInput) Error() string { return "invalid input: " + e.Field + ": " + e.Problem }

// invalid turns a decoding error into an *InvalidInput.
func invalid(err error) *InvalidInput {
	var fe *input.FieldError
	if errors.As(err, &fe) {
		return &InvalidInput{Field: fe.Field, Problem: fe.Problem}
	}
	return &InvalidInput{Field: "(document)", Problem: err.Error()}
}

// RetryableError is a failure that may pass on a later attempt: throttling, a 5xx from AWS,
// a network error or a timeout.
type RetryableError struct{ Err error }

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// FatalError is any other failure: retrying will not help.
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

// sdkRetryables is the SDK's own classification of retryable errors (its standard retryer's):
// throttling codes, 5xx statuses, connection errors, request timeouts; a canceled request is
// not retried.
var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// IsRetryable reports whether err is worth another attempt: as the SDK classifies it, with
// these additions, each an error the SDK never sees or sees without its HTTP status:
//   - a *RetryableError (the rotator's own name for a transient condition, e.g. a lease
//     held by a retry of the same execution);
//   - an API error whose fault is the server's (smithy.FaultServer) however it reached us;
//   - a deadline: the invocation ran out of time, and a new invocation has a new budget.
func IsRetryable(err error) bool {
	var re *RetryableError
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &re):
		return true
	case errors.As(err, &apiErr) && apiErr.ErrorFault() == smithy.FaultServer:
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	}
	return sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary
}

// ErrorName is the name err is reported under: ErrInvalidInput, ErrRetryable or ErrFatal.
func ErrorName(err error) string {
	var invalidInput *InvalidInput
	var fatal *FatalError
	switch {
	case errors.As(err, &invalidInput):
		return ErrInvalidInput
	case errors.As(err, &fatal) && fatal == err:
		return ErrFatal
	case IsRetryable(err):
		return ErrRetryable
	}
	return ErrFatal
}

// ForLambda is err as the Lambda reports it: its message, under its ErrorName. An
// InvalidInput wrapped in context keeps its field first. Call it once, at the handler's return.
func ForLambda(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var invalidInput *InvalidInput
	if errors.As(err, &invalidInput) && invalidInput != err {
		msg = (&InvalidInput{Field: invalidInput.Field, Problem: fmt.Sprintf("%s (%v)", invalidInput.Problem, err)}).Error()
	}
	return messages.InvokeResponse_Error{Message: msg, Type: ErrorName(err)}
}
