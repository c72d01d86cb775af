package workflow

import (
	"context"
	"errors"
	"fmt"
	"net"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/keyrotator/iam-access-key-rotator/pkg/input"
)

// The Lambdas return these types at their boundary: aws-lambda-go reports an error's Go type
// name as its errorType, which the ASL's Retry and Catch match ("InvalidInput",
// "RetryableError"). Anything else is reported as "FatalError".

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

// throttlingCodes are the AWS error codes for rate limiting across the services used.
var throttlingCodes = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestLimitExceeded": true, "TooManyRequestsException": true,
	"RequestThrottled": true, "SlowDown": true, "ServiceUnavailable": true, "InternalFailure": true,
	"InternalError": true, "ServiceFailure": true, "Throttled": true,
}

// IsRetryable reports whether err is worth another attempt.
func IsRetryable(err error) bool {
	var re *RetryableError
	if errors.As(err, &re) {
		return true
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && throttlingCodes[apiErr.ErrorCode()] {
		return true
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 500 {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded)
}

// ForLambda gives err the type whose name the ASL matches. Call it once, at the handler's
// return.
func ForLambda(err error) error {
	var invalidInput *InvalidInput
	var retryable *RetryableError
	var fatal *FatalError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &invalidInput):
		if invalidInput != err {
			return &InvalidInput{Field: invalidInput.Field, Problem: fmt.Sprintf("%s (%v)", invalidInput.Problem, err)}
		}
		return err
	case errors.As(err, &retryable) && retryable == err, errors.As(err, &fatal) && fatal == err:
		return err
	case IsRetryable(err):
		return &RetryableError{Err: err}
	default:
		return &FatalError{Err: err}
	}
}
