// Command mutations measures docs/policy.md's mutation table. It takes a snapshot of the
// working tree (the files git tracks, as they are on disk when it starts); for each patch in
// sim/mutations it copies the snapshot, undoes one fix by applying the patch, runs the fault
// campaign of make test (cmd/faults: its seeds in the default world, then in the rare one) on
// the copy and compares its violations with the campaign of the
// unpatched copy. A fix is caught when undoing it adds violations of an invariant it keeps
// (the patch's "Keeps:" line, invariants separated by ";"). It prints one markdown row per
// patch, with the tests its "Tests:" line names, each run on the patched copy (one that
// passes is struck through), and exits 1 when a patch no longer applies, names a test that
// does not run, or undoes a fix the campaign does not catch.
//
//	go run ./cmd/mutations                 # every patch, 20 seeds of each world (the campaign of make test)
//	go run ./cmd/mutations -only tag-keys,dates-told    # the patches whose name contains tag-keys or dates-told
//
// A patch is a unified diff (git diff) after a header of "Key: value" lines:
//
//	Fix: tag keys read as IAM compares them
//	Undone: policy.Tags.Lookup matches exactly
//	Keeps: exempt users get zero writes
//	Tests: `pkg/policy` `TestTagKeysAreReadAsIAMComparesThem`; `sim` `TestExemptTagInAnyCaseGetsZeroWrites`
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// worldFlags are cmd/faults' flags for each world of make test's campaign; campaignWorlds
// those -worlds chose (both by default: the campaign of make test).
var (
	worldFlags     = map[string][]string{"default": nil, "rare": {"-rare"}}
	campaignWorlds [][]string
)

// mutation is one patch that undoes one fix.
type mutation struct {
	name, path               string
	fix, undone, keep, tests string
}

// outcome is cmd/faults' -json line.
type outcome struct {
	Faults      int            `json:"faults"`
	Violations  int            `json:"violations"`
	ByInvariant map[string]int `json:"byInvariant"`
}

func main() {
	seeds := flag.Int("seeds", 20, "seeds per world (20 of each is make test's campaign)")
	only := flag.String("only", "", "run only the patches whose file name contains one of these (comma-separated)")
	dir := flag.String("dir", "sim/mutations", "the directory of patches")
	worlds := flag.String("worlds", "default,rare", "the campaign's worlds (cmd/faults without and with -rare), comma-separated")
	flag.Parse()
	for w := range strings.SplitSeq(*worlds, ",") {
		flag, ok := worldFlags[w]
		if !ok {
			fmt.Fprintf(os.Stderr, "mutations: -worlds: unknown world %q (default, rare)\n", w)
			os.Exit(2)
		}
		campaignWorlds = append(campaignWorlds, flag)
	}
	// Interrupted, it stops the campaign or tests under way, with everything they started.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	missed, mend, err := measure(ctx, *dir, *only, *seeds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutations:", err)
		os.Exit(2)
	}
	if mend > 0 {
		fmt.Fprintf(os.Stderr, "mutations: %d patches to mend (they no longer apply, or their Tests: line names a test that does not run)\n", mend)
	}
	if missed > 0 {
		fmt.Fprintf(os.Stderr, "mutations: %d fixes undone were not caught by the campaign\n", missed)
	}
	if missed+mend > 0 {
		os.Exit(1)
	}
}

// measure prints the table and returns how many fixes undone the campaign did not catch, and
// how many patches need mending.
func measure(ctx context.Context, dir, only string, seeds int) (missed, mend int, err error) {
	mutations, err := load(dir, only)
	if err != nil {
		return 0, 0, err
	}
	if len(mutations) == 0 {
		return 0, 0, fmt.Errorf("no patch in %s matches %q", dir, only)
	}
	files, err := tracked()
	if err != nil {
		return 0, 0, err
	}
	snapshot, err := os.MkdirTemp("", "mutations-snapshot-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(snapshot)
	if err := copyFiles(files, ".", snapshot); err != nil {
		return 0, 0, err
	}
	progress("baseline: the campaign of the unpatched tree (%d seeds of each world)", seeds)
	base, _, err := campaign(ctx, snapshot, files, nil, seeds)
	if err != nil {
		return 0, 0, fmt.Errorf("baseline: %w", err)
	}
	progress("baseline: %d violations, %d faults", base.Violations, base.Faults)
	fmt.Printf("baseline: %d violations with %d seeds of each world\n\n", base.Violations, seeds)
	fmt.Printf("| patch | fix | how it was undone | violations with %d seeds of each world (baseline subtracted), by invariant | caught | also caught by |\n", seeds)
	fmt.Println("|---|---|---|---|---|---|")
	for i, m := range mutations {
		progress("[%d/%d] %s", i+1, len(mutations), m.name)
		start := time.Now()
		got, failing, err := campaign(ctx, snapshot, files, &m, seeds)
		var testsErr *testsError
		switch {
		case errors.As(err, &testsErr):
			// The campaign's figures stand; the patch's Tests: line needs mending.
			mend++
			failing = "**" + err.Error() + "**"
		case err != nil:
			mend++
			fmt.Printf("| %s | %s | %s | %v | **no** | %s |\n", m.name, m.fix, m.undone, err, m.tests)
			continue
		}
		added := 0
		for inv := range strings.SplitSeq(m.keep, ";") {
			inv = strings.TrimSpace(inv)
			added += got.ByInvariant[inv] - base.ByInvariant[inv]
		}
		caught := "yes"
		if added <= 0 {
			caught = "**no**"
			missed++
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %s |\n", m.name, m.fix, m.undone, difference(got, base), caught, failing)
		progress("[%d/%d] %s: %d more violations of %q (%s)", i+1, len(mutations), m.name, added, m.keep, time.Since(start).Round(time.Second))
	}
	return missed, mend, nil
}

// load reads the patches' headers; every patch must say what it undoes and what it keeps.
func load(dir, only string) ([]mutation, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.patch"))
	if err != nil {
		return nil, err
	}
	var out []mutation
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".patch")
		if !slices.ContainsFunc(strings.Split(only, ","), func(part string) bool { return strings.Contains(name, part) }) {
			continue
		}
		m, err := header(p)
		if err != nil {
			return nil, err
		}
		m.name, m.path = name, p
		out = append(out, m)
	}
	return out, nil
}

func header(path string) (mutation, error) {
	f, err := os.Open(path)
	if err != nil {
		return mutation{}, err
	}
	defer f.Close()
	var m mutation
	fields := map[string]*string{"Fix": &m.fix, "Undone": &m.undone, "Keeps": &m.keep, "Tests": &m.tests}
	lines := bufio.NewScanner(f)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), "diff ") {
		key, value, ok := strings.Cut(lines.Text(), ": ")
		if field, known := fields[key]; ok && known {
			*field = strings.TrimSpace(value)
		}
	}
	if m.fix == "" || m.undone == "" || m.keep == "" {
		return mutation{}, fmt.Errorf("%s: the header needs Fix:, Undone: and Keeps: lines before the diff", path)
	}
	return m, lines.Err()
}

// tracked lists the files git tracks, so the copy holds the working tree's sources and
// nothing built or installed.
func tracked() ([]string, error) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		return nil, fmt.Errorf("git ls-files: %w (run from the repository's root)", err)
	}
	return strings.Split(strings.TrimRight(string(out), "\x00"), "\x00"), nil
}

// campaign copies the snapshot's files, applies the patch (nil: none) and runs cmd/faults on
// the copy, then the patch's tests: failing lists them, struck through those that passed.
func campaign(ctx context.Context, snapshot string, files []string, m *mutation, seeds int) (o outcome, failing string, err error) {
	tree, err := os.MkdirTemp("", "mutation-")
	if err != nil {
		return o, "", err
	}
	defer os.RemoveAll(tree)
	if err := copyFiles(files, snapshot, tree); err != nil {
		return o, "", err
	}
	if m != nil {
		patch, err := filepath.Abs(m.path)
		if err != nil {
			return o, "", err
		}
		if out, err := command(ctx, tree, "git", "apply", patch).CombinedOutput(); err != nil {
			return o, "", fmt.Errorf("the patch no longer applies: %s", strings.TrimSpace(string(out)))
		}
	}
	o.ByInvariant = map[string]int{}
	for _, world := range campaignWorlds {
		// -trimpath: the copies, each in a directory of its own, share the build cache.
		args := append([]string{"run", "-trimpath", "./cmd/faults", "-json", "-seeds", fmt.Sprint(seeds)}, world...)
		out, err := runs(command(ctx, tree, "go", args...))
		if err != nil {
			return o, "", fmt.Errorf("cmd/faults %s: %w", strings.Join(world, " "), err)
		}
		var one outcome
		if err := json.Unmarshal(lastLine(out), &one); err != nil {
			return o, "", fmt.Errorf("cmd/faults %s printed no outcome: %w", strings.Join(world, " "), err)
		}
		o.Faults += one.Faults
		o.Violations += one.Violations
		for inv, n := range one.ByInvariant {
			o.ByInvariant[inv] += n
		}
	}
	if m == nil {
		return o, "", nil
	}
	failing, err = testsOn(ctx, tree, m.tests)
	return o, failing, err
}

// testsError is a "Tests:" line that names a test that does not run where it says.
type testsError struct{ error }

// testsOn runs the tests a "Tests:" line names (`pkg` `TestA`, `TestB`; `pkg2` `TestC`) on
// the patched tree and lists them, those that passed struck through. A test that did not run
// (misnamed, or in another package) is an error.
func testsOn(ctx context.Context, tree, line string) (string, error) {
	var listed []string
	for group := range strings.SplitSeq(line, ";") {
		words := strings.Fields(strings.NewReplacer("`", "", ",", " ").Replace(group))
		if len(words) < 2 {
			continue
		}
		pkg, names := words[0], words[1:]
		out, err := runs(command(ctx, tree, "go", "test", "-trimpath", "-count=1", "-v", "./"+pkg, "-run", "^("+strings.Join(names, "|")+")$"))
		if err != nil && !bytes.Contains(out, []byte("--- FAIL")) {
			return "", fmt.Errorf("go test ./%s: %w", pkg, err)
		}
		for _, name := range names {
			switch {
			case bytes.Contains(out, []byte("--- FAIL: "+name+" ")):
				listed = append(listed, fmt.Sprintf("`%s` `%s`", pkg, name))
			case bytes.Contains(out, []byte("--- PASS: "+name+" ")):
				listed = append(listed, fmt.Sprintf("~~`%s` `%s`~~ (passes)", pkg, name))
			default:
				return "", &testsError{fmt.Errorf("test %s did not run in ./%s", name, pkg)}
			}
		}
	}
	return strings.Join(listed, ", "), nil
}

// command runs in dir, in a process group of its own: go run and go test start the binaries
// they build as children, which a cancelled ctx stops with them.
func command(ctx context.Context, dir, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	return c
}

// runs runs c and returns its output; exit status 1 (violations found, tests failed) is not
// an error.
func runs(c *exec.Cmd) ([]byte, error) {
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return out, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func copyFiles(files []string, from, to string) error {
	for _, f := range files {
		if f == "" {
			continue
		}
		if err := copyFile(filepath.Join(from, f), filepath.Join(to, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if errors.Is(err, os.ErrNotExist) {
		return nil // deleted in the working tree, not yet in git
	}
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func lastLine(out []byte) []byte {
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	return lines[len(lines)-1]
}

// difference lists the violations the patch added, by invariant, most first.
func difference(got, base outcome) string {
	added := map[string]int{}
	for inv, n := range got.ByInvariant {
		if d := n - base.ByInvariant[inv]; d != 0 {
			added[inv] = d
		}
	}
	invariants := slices.SortedFunc(maps.Keys(added), func(a, b string) int {
		if added[a] != added[b] {
			return added[b] - added[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, inv := range invariants {
		parts = append(parts, fmt.Sprintf("%q %d", inv, added[inv]))
	}
	return fmt.Sprintf("%d (%s)", got.Violations-base.Violations, strings.Join(parts, ", "))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mutations: "+format+"\n", args...)
}
