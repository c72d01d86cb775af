package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/bench"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

const benchScaleHelp = `Usage: keyrotator bench-scale [--accounts N] [--notice-users N] [--quiet-users N] [flags]

Measures the rotator at scale on the local stand-in and writes BENCHMARKS.md:

  1. starts a stand-in and seeds an organization: N accounts of 5 users with mixed key
     ages (2 with nothing due, a key replaced, an unused key deleted, a deactivation
     announced), one account whose users each need only a notice, and one quiet account
     where nothing is due;
  2. runs one execution of the workflow on it, as "keyrotator run" does (the local
     runner and the real Lambdas), counting each Lambda's invocations and GB-seconds, the
     state transitions and the requests the Lambdas send, by service;
  3. scans the same accounts the per-user way (ListUsers, then per user ListAccessKeys,
     GetAccessKeyLastUsed per key and ListUserTags; a separate implementation on the same
     SDK), counting its IAM and STS calls per account;
  4. prints the two side by side and writes the figures, the cost of the daily run at list
     prices, checks against the scale goals and a projection to 10,000 accounts to --out,
     with a table by size: this run's row, and the rows of other sizes (--accounts) kept
     from the file it replaces.

The default size takes about 10-30 minutes on 2 cores, 3,000 accounts about three times
that; use smaller sizes to try it out.
Progress goes to stderr. Exit status: 0 when the execution succeeded with every account
done, 1 otherwise (BENCHMARKS.md is written either way when the run got that far), 2 on bad
flags.

Needs .venv with moto (` + sandbox.InstallHint + `) and Node 22 with
aws-local-stepfunctions (` + runner.NodeInstallHint + `).

Examples:
  keyrotator bench-scale                                  # the default size, BENCHMARKS.md
  keyrotator bench-scale --accounts 3000                  # 3,000 mixed accounts, BENCHMARKS.md
  keyrotator bench-scale --accounts 50 --notice-users 60 --quiet-users 100 --out /tmp/b.md

Flags:
`

func runBenchScale(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("bench-scale", benchScaleHelp, stderr)
	size := bench.DefaultSize
	fs.IntVar(&size.Accounts, "accounts", size.Accounts, "accounts of 5 users with mixed key ages")
	fs.IntVar(&size.NoticeUsers, "notice-users", size.NoticeUsers, "users of the account where each needs only a notice (0: no such account)")
	fs.IntVar(&size.QuietUsers, "quiet-users", size.QuietUsers, "users of the quiet account, where nothing is due (0: no such account)")
	accountConcurrency := fs.Int("account-concurrency", 10, "MaxConcurrency of the account Map (the stack's default), and of the per-user scan")
	notifyConcurrency := fs.Int("notify-concurrency", 2, "MaxConcurrency of each account's notification Map (the stack's default)")
	maxInstances := fs.Int("max-instances", 4, "warm processes per Lambda function at most")
	out := fs.String("out", "BENCHMARKS.md", "the file the figures are written to")
	estimateOut := fs.String("estimate-out", "pkg/estimate/measured.json", "the file the unit costs and time per account are written to, which preflight's estimate embeds (\"\": none)")
	runOut := fs.String("run-out", "out/bench-scale", "directory for the execution's output (execution.json, report, logs, mail; \"\": none)")
	bin := fs.String("bin", "", "directory with <function>/bootstrap; set it to skip the build (default: build into build/local)")
	python := fs.String("python", "", "Python with moto[server] (default $"+sandbox.PythonEnv+", else .venv/bin/python3)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "keyrotator bench-scale: unexpected argument %q\n", fs.Arg(0))
		return 2
	case size.Accounts < 0 || size.NoticeUsers < 0 || size.QuietUsers < 0:
		fmt.Fprintln(stderr, "keyrotator bench-scale: --accounts, --notice-users and --quiet-users must not be negative")
		return 2
	case *accountConcurrency < 1 || *notifyConcurrency < 1 || *maxInstances < 1:
		fmt.Fprintln(stderr, "keyrotator bench-scale: --account-concurrency, --notify-concurrency and --max-instances must be at least 1")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "keyrotator bench-scale: %v\n", err)
		return 1
	}
	if *bin == "" {
		fmt.Fprintln(stderr, "building the Lambdas into build/local…")
		if err := runner.Build(ctx, "", ""); err != nil {
			return fail(err)
		}
	}
	res, err := bench.Run(ctx, bench.Options{Size: size, AccountConcurrency: *accountConcurrency, NotifyConcurrency: *notifyConcurrency,
		MaxInstances: *maxInstances, BinDir: *bin, Python: *python, RunOut: *runOut, Progress: stderr,
		Command: "keyrotator bench-scale " + strings.Join(args, " ")})
	if err != nil {
		return fail(err)
	}
	// The table by size keeps the other sizes' rows of the file this run replaces.
	previous, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fail(err)
	}
	if _, err := res.KeepSizes(previous); err != nil {
		fmt.Fprintf(stderr, "bench-scale: %s: %v\n", *out, err)
	}
	var doc bytes.Buffer
	res.Markdown(&doc)
	if err := os.WriteFile(*out, doc.Bytes(), 0o644); err != nil {
		return fail(err)
	}
	res.SideBySide(stdout)
	fmt.Fprintf(stderr, "bench-scale: done in %s; figures in %s\n", res.Total.Round(time.Second), *out)
	f := res.Figures()
	if res.Status != "SUCCEEDED" || f.Done != f.Accounts {
		return fail(fmt.Errorf("the execution %s with %d of %d accounts done: see %s", strings.ToLower(res.Status), f.Done, f.Accounts, *out))
	}
	// Only a run that did all its work prices the next estimate.
	if *estimateOut != "" {
		measured, err := json.MarshalIndent(res.Measured(), "", "  ")
		if err == nil {
			err = os.WriteFile(*estimateOut, append(measured, '\n'), 0o644)
		}
		if err != nil {
			return fail(err)
		}
	}
	return 0
}
