// Package awsmodel is an in-memory model of the parts of IAM, Secrets Manager, SES v2 and S3
// that the rotator calls, behaving as AWS documents, with a hook to inject faults on every
// call.
//
// The clients (IAM, Secrets, SES, S3) have the aws-sdk-go-v2 method signatures, so the
// rotator's own code runs against them unchanged; their errors are the SDK's typed
// exceptions, wrapped as the SDK wraps them (*smithy.OperationError around an HTTP response
// error with its status code), so that errors.As and the rotator's retry classification see
// what they would see in AWS. The World's direct methods (CreateUser, AddKey, UseKey, ...)
// are the owners' and the test's side: no faults, not observed, not in Recent.
//
// Everything is deterministic: no goroutines, no wall clock (time is the clock given to New),
// IDs from a generator seeded at construction, and every listing sorted. Where AWS documents
// eventual consistency the model takes the worst case the documentation allows, with the
// delay a field of the World (ConsistencyDelay, ListSecretsDelay) that a test may set to 0.
//
// Where the local stand-in (moto) differs from AWS, the model follows AWS: the credential
// report is cached for 4 hours and reports inactive keys' last_rotated as N/A, new keys are
// missing from ListAccessKeys for a few seconds, ListSecrets lags, SES accepts mail that
// later bounces, and the SES sandbox delivers only to verified addresses.
package awsmodel

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// World holds every account's IAM, the rotator account's Secrets Manager, SES and S3.
// It is not safe for concurrent use: the simulation calls it from one goroutine.
type World struct {
	// Inject is consulted before every call made through a client (nil: no faults).
	Inject func(Call) Fault
	// Observe is told of every call made through a client once it returns, with its
	// output (the SDK's *XOutput, nil on error) and error. A crash (CrashBefore) does not return, so it
	// is not observed (Recent records it).
	Observe func(c Call, out any, err error)

	// ConsistencyDelay is how long IAM's ListAccessKeys omits a new key and still lists a
	// deleted one (IAM is eventually consistent; default 5 s).
	ConsistencyDelay time.Duration
	// ReportInterval is how long a credential report is reused: a GenerateCredentialReport
	// within this time of the last generation answers COMPLETE without regenerating
	// (AWS: four hours).
	ReportInterval time.Duration
	// ListSecretsDelay is how long Secrets Manager's ListSecrets may not reflect a change
	// (AWS: "might not reflect changes from the last five minutes"; default 5 min). The model
	// always lags by this much: a new secret is not listed yet, a deleted one still is.
	ListSecretsDelay time.Duration
	// BounceDelay is how long after SES accepted a message to a bouncing address that
	// address appears on the account's suppression list (default 1 min).
	BounceDelay time.Duration
	// SecretsAccount is the account that holds the hand-off secrets, SES and S3 (the
	// rotator's account), as it appears in ARNs.
	SecretsAccount string
	// Region appears in ARNs and in last-use records.
	Region string
	// OrgThrottle, when set, throttles the Organizations calls and plays the SDK's retries of
	// them on a time line of their own (OrgStats); nil: no throttling.
	OrgThrottle *OrgThrottle

	clock    func() time.Time
	rand     *rand.Rand
	seq      uint64
	accounts map[string]*account
	secrets  secretStore
	ses      sesState
	s3       map[string]*bucket
	org      orgState
	recent   [recentSize]entry
	calls    int
	github   *GitHub
}

// New returns an empty World whose time is clock and whose generated IDs come from seed.
func New(clock func() time.Time, seed int64) *World {
	return &World{
		ConsistencyDelay: 5 * time.Second,
		ReportInterval:   4 * time.Hour,
		ListSecretsDelay: 5 * time.Minute,
		BounceDelay:      time.Minute,
		SecretsAccount:   "999988887777",
		Region:           "us-east-1",
		clock:            clock,
		rand:             rand.New(rand.NewPCG(uint64(seed), 0x6177736d6f64656c)),
		accounts:         map[string]*account{},
		secrets:          secretStore{byARN: map[string]*secret{}},
		ses:              newSESState(),
		s3:               map[string]*bucket{},
	}
}

func (w *World) now() time.Time { return w.clock().UTC() }

const (
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	secretSet  = alnum + "+/"
)

// randomString draws n characters of set from the World's generator.
func (w *World) randomString(set string, n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(set[w.rand.IntN(len(set))])
	}
	return b.String()
}

// requestID is a fresh request ID, as AWS returns with every response and error.
func (w *World) requestID() string {
	w.seq++
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", w.seq)
}
