package main

import (
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

Needs Node 22 and aws-local-stepfunctions in sandbox/node_modules: ` + runner.NodeInstallHint + `.

Examples:
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/run1
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/dry --input '{"dryRun":true}'
  keyrotator run --endpoint http://127.0.0.1:4566 --out out/one --input '{"accounts":["111122223333"]}'

Flags:
`

// listFlag is a comma-separated list flag that records whether it was set.
type listFlag struct {
	values []string
	set    bool
}

func (l *listFlag) String() string { return strings.Join(l.values, ",") }
func (l *listFlag) Set(v string) error {
	l.set, l.values = true, nil
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			l.values = append(l.values, item)
		}
	}
	return nil
}

func runRun(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, runHelp)
		fs.PrintDefaults()
	}
	endpoint := fs.String("endpoint", "", "the running stand-in, e.g. http://127.0.0.1:4566 (required)")
	out := fs.String("out", "", "directory for execution.json, mail/, report.*, logs/ (required)")
	inputDoc := fs.String("input", "{}", `execution input, e.g. {"dryRun":true} or {"accounts":["111122223333"]}`)
	limitDays := fs.Int("limit-days", 0, "LIMIT_DAYS: maximum key age (0: the default, 90)")
	noticePeriod := fs.Int("notice-period", 0, "NOTICE_PERIOD: days of notice before each step (0: the default, 10)")
	maxUsers := fs.Int("max-users", 0, "MAX_USERS: users with writes per account per run (0: the default, 200)")
	memberRole := fs.String("member-role", "", "MEMBER_ROLE_NAME (default: the stand-in's memberRole)")
	sender := fs.String("sender", "", "SENDER_EMAIL (default: the stand-in's senderEmail)")
	support := fs.String("support", "", "SUPPORT_EMAIL (default: the stand-in's supportEmail)")
	var exclude, domains listFlag
	fs.Var(&exclude, "exclude-accounts", "EXCLUDE_ACCOUNTS, comma-separated account IDs (default: the stand-in's excludeAccountIds)")
	fs.Var(&domains, "allowed-domains", "ALLOWED_EMAIL_DOMAINS, comma-separated (default: the stand-in's allowedEmailDomains)")
	accountConcurrency := fs.Int("account-concurrency", 4, "MaxConcurrency of the account Map")
	notifyConcurrency := fs.Int("notify-concurrency", 2, "MaxConcurrency of the notification Map")
	fastRetries := fs.Bool("fast-retries", false, "shorten every Retry interval to 100 ms (retryIntervalOverrides); default: as written")
	binDir := fs.String("bin", "", "directory with <function>/bootstrap; set it to skip the build (default: build into build/local)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "keyrotator run: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case *endpoint == "":
		return usageErr("--endpoint is required (the URL \"keyrotator sandbox\" prints)")
	case *out == "":
		return usageErr("--out is required")
	case !json.Valid([]byte(*inputDoc)):
		return usageErr("--input is not JSON: %s", *inputDoc)
	case *limitDays < 0 || *noticePeriod < 0 || *maxUsers < 0:
		return usageErr("--limit-days, --notice-period and --max-users must not be negative")
	case *accountConcurrency < 1 || *notifyConcurrency < 1:
		return usageErr("--account-concurrency and --notify-concurrency must be at least 1")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "keyrotator run: %v\n", err)
		return 1
	}
	standIn, err := sandbox.GetSettings(ctx, strings.TrimRight(*endpoint, "/"))
	if err != nil {
		return fail(fmt.Errorf("read the stand-in's settings (is \"keyrotator sandbox\" running there?): %w", err))
	}
	s := runner.SettingsFrom(standIn)
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&s.MemberRole, *memberRole)
	override(&s.SenderEmail, *sender)
	override(&s.SupportEmail, *support)
	if exclude.set {
		s.ExcludeAccounts = exclude.values
	}
	if domains.set {
		s.AllowedEmailDomains = domains.values
	}
	s.LimitDays, s.NoticePeriod, s.MaxUsers = *limitDays, *noticePeriod, *maxUsers
	s.AccountConcurrency, s.NotifyConcurrency = *accountConcurrency, *notifyConcurrency

	opts := runner.Options{Endpoint: strings.TrimRight(*endpoint, "/"), Input: json.RawMessage(*inputDoc), Settings: s,
		BinDir: *binDir, Progress: stderr}
	if *fastRetries {
		opts.RetryInterval = 100 * time.Millisecond
	}
	if *binDir == "" {
		started := time.Now()
		fmt.Fprintln(stderr, "building the Lambdas into build/local…")
		if err := runner.Build(ctx, "", ""); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "built in %s\n", time.Since(started).Round(time.Millisecond))
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
