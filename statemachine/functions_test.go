package statemachine_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

func functionNames() []string {
	var names []string
	for _, f := range statemachine.Functions {
		names = append(names, f.Name)
	}
	return names
}

// TestFunctionsAreTheLambdaFolders: every function has its main package under lambdas/, and
// every folder there with a main.go is a function of the list.
func TestFunctionsAreTheLambdaFolders(t *testing.T) {
	mains, err := filepath.Glob("../lambdas/*/main.go")
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, m := range mains {
		folders = append(folders, filepath.Base(filepath.Dir(m)))
	}
	want := functionNames()
	slices.Sort(folders)
	slices.Sort(want)
	if !slices.Equal(folders, want) {
		t.Errorf("lambdas/*/main.go are %v; statemachine.Functions lists %v", folders, want)
	}
}

var makeLambdas = regexp.MustCompile(`(?m)^LAMBDAS\s*:=\s*(.*)$`)

// TestMakefileBuildsEveryFunction holds the Makefile's LAMBDAS (make lambdas, make
// build-local) to statemachine.Functions, in the same order.
func TestMakefileBuildsEveryFunction(t *testing.T) {
	b, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := makeLambdas.FindAllSubmatch(b, -1)
	if len(m) != 1 {
		t.Fatalf("the Makefile sets LAMBDAS := %d times, want once", len(m))
	}
	if got := strings.Fields(string(m[0][1])); !slices.Equal(got, functionNames()) {
		t.Errorf("Makefile LAMBDAS = %v, want statemachine.Functions %v", got, functionNames())
	}
}

// TestEveryFunctionIsInvoked: each function's ARN placeholder is used by the template, and
// the names and placeholders are distinct.
func TestEveryFunctionIsInvoked(t *testing.T) {
	used := statemachine.TemplatePlaceholders(statemachine.Template)
	var names, placeholders []string
	for _, f := range statemachine.Functions {
		if !slices.Contains(used, f.ArnPlaceholder) {
			t.Errorf("%s: the template does not use ${%s}", f.Name, f.ArnPlaceholder)
		}
		if slices.Contains(names, f.Name) || slices.Contains(placeholders, f.ArnPlaceholder) {
			t.Errorf("%s: listed twice", f.Name)
		}
		names, placeholders = append(names, f.Name), append(placeholders, f.ArnPlaceholder)
	}
}
