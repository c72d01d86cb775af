package contract

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// usesLine is a step's `uses:` with what follows the @; pinned is a full commit SHA.
var (
	usesLine = regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*([^@\s]+)@(\S+)`)
	pinned   = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// TestWorkflowsPinActionsAndRunTheCIScript holds the GitHub workflows to the habits the
// project keeps: every action pinned by commit SHA (a tag can be moved to other code, and the
// deploy job holds id-token: write), CI on pull requests as well as pushes, and both
// workflows testing with .ci/run, the README's test command.
func TestWorkflowsPinActionsAndRunTheCIScript(t *testing.T) {
	dir := filepath.Join("..", "..", ".github", "workflows")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflows in %s (%v)", dir, err)
	}
	for _, f := range files {
		text := read(filepath.Base(f))
		uses := usesLine.FindAllStringSubmatch(text, -1)
		if len(uses) == 0 {
			t.Errorf("%s uses no action: the pattern no longer reads it", filepath.Base(f))
		}
		for _, u := range uses {
			if !pinned.MatchString(u[2]) {
				t.Errorf("%s: %s@%s is not pinned by a commit SHA", filepath.Base(f), u[1], u[2])
			}
		}
	}
	ci := read("ci.yml")
	for _, want := range []string{"pull_request:", "push:", "bash .ci/run"} {
		if !strings.Contains(ci, want) {
			t.Errorf("ci.yml lacks %q", want)
		}
	}
	if !strings.Contains(read("deploy.yml"), "bash .ci/run") {
		t.Error("deploy.yml does not test with .ci/run")
	}
}
