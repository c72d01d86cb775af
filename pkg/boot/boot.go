// Package boot starts a Lambda the same way for all four: settings, AWS configuration and
// logger are built once, at init, and the handler's errors get the names the ASL matches.
package boot

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/pkg/calllog"
	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
	"github.com/keyrotator/iam-access-key-rotator/pkg/workflow"
)

// Env is what a Lambda's main builds its handler from.
type Env struct {
	Settings config.Settings
	AWS      aws.Config
	Log      *slog.Logger
}

// Start validates the environment of function (statemachine's name; the variables
// config.Functions requires of it must be set), builds the handler and serves it; it exits
// with a logged error when the configuration is invalid.
func Start[In, Out any](function string, build func(Env) (func(context.Context, In) (Out, error), error)) {
	log := lambdacontext.NewLogger()
	fail := func(msg string, err error) {
		log.Error(msg, "error", err.Error())
		os.Exit(1)
	}
	settings, err := config.Load(os.Getenv, config.Functions[function].Requires...)
	if err != nil {
		fail("invalid configuration", err)
	}
	cfg, err := awsclient.Load(context.Background())
	if err != nil {
		fail("invalid AWS configuration", err)
	}
	if path := os.Getenv(calllog.Env); path != "" { // only the local runner sets it
		cfg = awsclient.RecordCalls(cfg, path)
	}
	handle, err := build(Env{Settings: settings, AWS: cfg, Log: log})
	if err != nil {
		fail("cannot build the handler", err)
	}
	lambda.Start(func(ctx context.Context, in In) (Out, error) {
		out, err := handle(ctx, in)
		if err != nil {
			log.ErrorContext(ctx, "invocation failed", "error", err.Error())
		}
		return out, workflow.ForLambda(err)
	})
}
