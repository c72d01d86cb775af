package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/keyrotator/iam-access-key-rotator/sandbox"
)

// runSandbox starts the local AWS stand-in, seeds it with a scenario and serves it until
// SIGINT or SIGTERM.
const sandboxHelp = `Usage: keyrotator sandbox --scenario FILE [--port N]

Starts the local AWS stand-in (moto) on 127.0.0.1, seeds the scenario (organization,
member accounts, IAM users with back-dated keys, member role, verified SES sender) and
runs until interrupted. It prints "ready http://127.0.0.1:N" and then one line per
account, "NAME<TAB>ID" (plus "<TAB>management" or "<TAB>excluded"), on stdout. The secrets of the seeded
keys go to a file in a temporary directory, named on stderr; they are never printed.
The rotator settings of the scenario are served at http://127.0.0.1:N/keyrotator/settings.

Needs .venv with moto: ` + sandbox.InstallHint + `.

flags:
`

func runSandbox(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("sandbox", sandboxHelp, stderr)
	scenarioPath := fs.String("scenario", "", "scenario JSON file to seed (required), e.g. sandbox/scenarios/demo.json")
	port := fs.Int("port", 0, "TCP port on 127.0.0.1 (0: any free port)")
	python := fs.String("python", "", "Python with moto[server] (default $"+sandbox.PythonEnv+", else .venv/bin/python3 of the repository)")
	if exit, ok := parseFlags(fs, args); !ok {
		return exit
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keyrotator sandbox: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *scenarioPath == "" {
		fmt.Fprintln(stderr, "keyrotator sandbox: --scenario is required")
		fs.Usage()
		return 2
	}
	if *port < 0 || *port > 65535 {
		fmt.Fprintf(stderr, "keyrotator sandbox: --port %d: must be 0..65535\n", *port)
		return 2
	}
	sc, err := sandbox.LoadScenario(*scenarioPath)
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator sandbox: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	srv, err := sandbox.Start(ctx, sandbox.Options{Port: *port, Python: *python, Log: stderr})
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator sandbox: %v\n", err)
		return 1
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(stderr, "keyrotator sandbox: %v\n", err)
		}
	}()
	fmt.Fprintf(stderr, "stand-in listening at %s after %s\n", srv.URL, time.Since(started).Round(time.Millisecond))

	seedStart := time.Now()
	seeded, err := sandbox.Seed(ctx, srv.URL, sc, sandbox.SeedOptions{Progress: stderr, GitHub: srv.GitHub, GitHubURL: srv.GitHubURL})
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator sandbox: seed %s: %v\n", *scenarioPath, err)
		return 1
	}
	fmt.Fprintf(stderr, "seeded %d accounts and %d keys in %s\n",
		len(seeded.Settings.Accounts), len(seeded.Keys), time.Since(seedStart).Round(time.Millisecond))

	dir, err := os.MkdirTemp("", "keyrotator-sandbox-keys-")
	if err != nil {
		fmt.Fprintf(stderr, "keyrotator sandbox: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	keysFile := filepath.Join(dir, "keys.json")
	if err := seeded.WriteKeysFile(keysFile); err != nil {
		fmt.Fprintf(stderr, "keyrotator sandbox: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "secrets of the seeded keys: %s (removed on exit)\n", keysFile)

	fmt.Fprintf(stdout, "ready %s\n", srv.URL)
	for _, a := range seeded.Settings.Accounts {
		role := ""
		switch {
		case a.Management:
			role = "\tmanagement"
		case a.Excluded:
			role = "\texcluded"
		}
		fmt.Fprintf(stdout, "%s\t%s%s\n", a.Name, a.ID, role)
	}

	<-ctx.Done()
	fmt.Fprintln(stderr, "stopping the stand-in")
	return 0
}
