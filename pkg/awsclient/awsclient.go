// Package awsclient builds the AWS SDK configuration every Lambda and the CLI share: adaptive
// retries (IAM's rate limits are per account and undocumented), role assumption into
// another account with a session name that carries the run ID, the count of the calls
// made in an account, and, for the local stand-in's permission audit, a record of each call
// (RecordCalls).
package awsclient

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
)

// MaxAttempts is how often the SDK tries one call before the error reaches the caller.
const MaxAttempts = 8

// Load reads the default configuration (environment, shared files, the Lambda role) with
// adaptive retries. AWS_ENDPOINT_URL points every client at the local stand-in.
func Load(ctx context.Context, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts = append([]func(*config.LoadOptions) error{config.WithRetryer(func() aws.Retryer {
		return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
			o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) { so.MaxAttempts = MaxAttempts })
		})
	})}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

var sessionNameUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName builds a valid STS session name (2-64 characters of [\w+=,.@-]) from parts.
func SessionName(parts ...string) string {
	name := "key-rotator"
	for _, p := range parts {
		name += "-" + sessionNameUnsafe.ReplaceAllString(p, "_")
	}
	if len(name) > 64 {
		name = name[:64]
	}
	return name
}

// AssumeRole returns a copy of base whose credentials come from assuming roleARN, refreshed
// as they expire.
func AssumeRole(base aws.Config, roleARN, sessionName string, opts ...func(*stscreds.AssumeRoleOptions)) aws.Config {
	cfg := base.Copy()
	provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(base), roleARN, append([]func(*stscreds.AssumeRoleOptions){func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = sessionName
	}}, opts...)...)
	cfg.Credentials = aws.NewCredentialsCache(provider)
	return cfg
}

// RoleARN is the ARN of a role by name in an account of partition (the deployment's, from
// AWS::Partition through config.Settings.Partition: a region's name does not tell it).
func RoleARN(partition, accountID, roleName string) string {
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", partition, accountID, roleName)
}

// PathStyle is an s3.Options function: with a custom endpoint (the local stand-in) S3 is
// addressed by path, as bucket host names do not resolve there.
func PathStyle(o *s3.Options) { o.UsePathStyle = o.BaseEndpoint != nil }

// Calls counts the API calls made through the clients built from a configuration it counts
// (Counted): one per operation a client was asked to perform, whatever its outcome, the
// SDK's retries of it included in that one. Safe for concurrent use.
type Calls struct {
	mu   sync.Mutex
	byOp map[string]int
}

// Counted returns a copy of cfg whose clients, and the clients of configurations derived
// from it (AssumeRole), count their calls in c.
func (c *Calls) Counted(cfg aws.Config) aws.Config {
	cfg = cfg.Copy()
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("CountCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetServiceID(ctx) + " " + awsmiddleware.GetOperationName(ctx))
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	return cfg
}

func (c *Calls) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byOp == nil {
		c.byOp = map[string]int{}
	}
	c.byOp[op]++
}

// Total is the number of calls counted.
func (c *Calls) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.byOp {
		total += n
	}
	return total
}

// ByOperation is the calls counted by service and operation ("IAM ListAccessKeys").
func (c *Calls) ByOperation() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byOp)
}
