package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

const runHelp = `Usage: keyrotator run --endpoint URL --out DIR [--input JSON] [flags]

Runs one execution of the rotation workflow (statemachine/rotation.asl.json) against a
running local stand-in ("keyrotator sandbox"): aws-local-stepfunctions interprets the state
machine, and each Lambda Task runs the real Go binary (built into build/local first) through
a local Lambda Runtime API. The report bucket and the SNS failure topic are created on the
stand-in if missing. Settings (sender, support, member role, excluded accounts, allowed
domains) come from the stand-in's /keyrotator/settings; flags override them.

It writes DIR/execution.json (status, output, event log), DIR/mail/*.eml (this run's
emails), DIR/report.json and DIR/report.csv, and DIR/logs/<function>.log, shows progress
on stderr and ends with a summary table on stdout. Exit status: 0 when the execution
succeeded, 1 when it failed (the error is printed), 2 on bad flags.

Needs Node 22 and aws-local-stepfunctions in node_modules: ` + runner.NodeInstallHint + `.

Examples:
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/run1
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/dry --input '{"dryRun":true}'
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/one --input '{"accounts":["111122223333"]}'

Flags:
`

func runRun(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", runHelp, stderr)
	out := fs.String("out", "", "directory for execution.json, mail/, report.*, logs/ (required)")
	inputDoc := fs.String("input", "{}", `execution input, e.g. {"dryRun":true} or {"accounts":["111122223333"]}`)
	standIn := addStandInFlags(fs)
	accountConcurrency := fs.Int("account-concurrency", 4, "MaxConcurrency of the account Map")
	notifyConcurrency := fs.Int("notify-concurrency", 2, "MaxConcurrency of the notification Map")
	fastRetries := fs.Bool("fast-retries", false, "shorten every Retry interval to 100 ms (retryIntervalOverrides); default: as written")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	usageErr := usageError("run", stderr)
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case standIn.problem() != "":
		return usageErr("%s", standIn.problem())
	case *out == "":
		return usageErr("--out is required")
	case !json.Valid([]byte(*inputDoc)):
		return usageErr("--input is not JSON: %s", *inputDoc)
	case *accountConcurrency < 1 || *notifyConcurrency < 1:
		return usageErr("--account-concurrency and --notify-concurrency must be at least 1")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "keyrotator run: %v\n", err)
		return 1
	}
	s, err := standIn.prepare(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	s.MapConcurrency, s.NotifyConcurrency = *accountConcurrency, *notifyConcurrency

	opts := runner.Options{Endpoint: standIn.url(), Input: json.RawMessage(*inputDoc), Settings: s,
		BinDir: *standIn.bin, Progress: stderr}
	if *fastRetries {
		opts.RetryInterval = 100 * time.Millisecond
	}
	fmt.Fprintf(stderr, "running the workflow with input %s…\n", *inputDoc)
	ex, err := runner.Run(ctx, opts)
	if err != nil {
		return fail(err)
	}
	if err := ex.Write(*out); err != nil {
		return fail(err)
	}
	fmt.Fprintf(stderr, "finished in %s; output in %s\n", ex.StopDate.Sub(ex.StartDate).Round(time.Millisecond), *out)
	ex.Summary(stdout)
	if !ex.Succeeded() {
		fmt.Fprintf(stderr, "keyrotator run: execution %s failed: %s: %s\n", ex.Name, ex.Error, ex.Cause)
		return 1
	}
	return 0
}
