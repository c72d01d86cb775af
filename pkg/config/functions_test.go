package config

import (
	"slices"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestFunctionsDecideEveryFunctionsVariables: each function has its entry, requires only
// what it reads, reads each variable once, and every variable is read by some function.
func TestFunctionsDecideEveryFunctionsVariables(t *testing.T) {
	read := map[string]bool{}
	for _, f := range statemachine.Functions {
		vars, ok := Functions[f.Name]
		if !ok {
			t.Errorf("no variables for %s", f.Name)
		}
		for _, v := range vars.Requires {
			if !slices.Contains(vars.Reads, v) {
				t.Errorf("%s requires %s, which it does not receive", f.Name, v)
			}
		}
		for _, v := range vars.Reads {
			if !slices.Contains(Variables, v) {
				t.Errorf("%s reads unknown variable %s", f.Name, v)
			}
			read[v] = true
		}
		if len(slices.Compact(slices.Sorted(slices.Values(vars.Reads)))) != len(vars.Reads) {
			t.Errorf("%s lists a variable twice: %v", f.Name, vars.Reads)
		}
	}
	for _, v := range Variables {
		if !read[v] {
			t.Errorf("no function reads %s", v)
		}
	}
	if len(Functions) != len(statemachine.Functions) {
		t.Errorf("%d entries for %d functions", len(Functions), len(statemachine.Functions))
	}
}
