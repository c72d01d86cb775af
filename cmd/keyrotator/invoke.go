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

	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

const invokeHelp = `Usage: keyrotator invoke FUNCTION --endpoint URL [--event JSON | --event-file FILE|-] [flags]

Runs one event through one Lambda's real bootstrap (built into build/local first) against
a running local stand-in ("keyrotator sandbox"), with the environment a workflow run gives
it: the stand-in's settings, the report bucket and the failure topic (created if missing).
The response goes to stdout as JSON, the function's log lines to stderr. Exit status: 0
when the function succeeded, 1 when it failed (its error type and message are printed),
2 on bad flags.

FUNCTION is one of list-accounts, scan-and-rotate, notify-user, cleanup-report; their events
are the step payloads of pkg/workflow (docs/design.md "How a run works").

Examples:
  keyrotator invoke list-accounts --endpoint http://127.0.0.1:4566 \
      --event '{"input":{"dryRun":true},"runId":"try-1","startTime":"2026-11-25T13:00:00Z"}'
  keyrotator invoke scan-and-rotate --endpoint http://127.0.0.1:4566 \
      --event '{"run":{"runId":"try-1","now":"2026-11-25T13:00:00Z","dryRun":true},"account":{"accountId":"111122223333","name":"prod"}}'

Flags:
`

func runInvoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("invoke", invokeHelp, stderr)
	usageErr := usageError("invoke", stderr)
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return usageErr("the first argument is the FUNCTION (list-accounts, scan-and-rotate, notify-user, cleanup-report)")
	}
	function := args[0]
	event := fs.String("event", "", "the event, as JSON")
	eventFile := fs.String("event-file", "", "read the event from FILE, or - for standard input")
	standIn := addStandInFlags(fs)
	if exit, ok := parseFlags(fs, args[1:]); !ok {
		return exit
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case standIn.problem() != "":
		return usageErr("%s", standIn.problem())
	case (*event == "") == (*eventFile == ""):
		return usageErr("give the event with exactly one of --event and --event-file")
	}
	payload := []byte(*event)
	if *eventFile != "" {
		var err error
		if payload, err = readInput(*eventFile, stdin); err != nil {
			return usageErr("%v", err)
		}
	}
	if !json.Valid(payload) {
		return usageErr("the event is not JSON: %s", payload)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "keyrotator invoke: %v\n", err)
		return 1
	}
	s, err := standIn.prepare(ctx, stderr)
	if err != nil {
		return fail(err)
	}
	out, log, err := runner.Invoke(ctx, runner.InvokeOptions{Endpoint: standIn.url(), Settings: s,
		BinDir: *standIn.bin, Function: function, Payload: payload})
	_, _ = stderr.Write(log)
	if err != nil {
		return fail(err)
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}
