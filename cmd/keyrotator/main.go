// Command keyrotator is the operator's CLI: it checks that SES and the organization are ready
// (preflight), plans what the rotation policy would do, runs the local stand-in, and runs the
// whole workflow once against it. It only parses flags and
// calls pkg/, sandbox/ and sandbox/runner.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one subcommand: it gets its arguments (after the subcommand's name) and returns
// the process exit code.
type command struct {
	summary string
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = map[string]command{
	"invoke":      {"run one event through one Lambda against a running stand-in", runInvoke},
	"plan":        {"print what the rotation policy decides for a set of users", runPlan},
	"bench-scale": {"measure the rotator at scale on the stand-in beside a per-user scan; writes BENCHMARKS.md", runBenchScale},
	"preflight":   {"check, read-only, that SES and the organization are ready for the rotator", runPreflight},
	"run":         {"run the rotation workflow once against a running stand-in", runRun},
	"sandbox":     {"run the local AWS stand-in seeded with a scenario", runSandbox},
}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func dispatch(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "keyrotator: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: keyrotator COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-12s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'keyrotator COMMAND -h' for a command's flags.")
}

// newFlagSet is a subcommand's flag set: errors and -h go to stderr, -h prints help and then
// the flags.
func newFlagSet(name, help string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, help)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a subcommand's flags. When it returns false the command ends with exit:
// 0 after -h (the help was printed), 2 after a bad flag (the flag package said why).
func parseFlags(fs *flag.FlagSet, args []string) (exit int, ok bool) {
	switch err := fs.Parse(args); {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		return 0, false
	}
	return 2, false
}

// usageError reports bad input to a subcommand: "keyrotator NAME: ..." on stderr, exit 2.
func usageError(name string, stderr io.Writer) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, "keyrotator "+name+": "+format+"\n", a...)
		return 2
	}
}
