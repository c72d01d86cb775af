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

// TestTableIsWellFormed: each setting has a context key or a variable (each given once), a
// required key has no default, a variable has readers and only they require it, and each
// default and example is a valid value of its setting's field.
func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Table {
		name := s.name()
		switch {
		case s.Key == "" && s.Variable == "":
			t.Errorf("a setting with neither a context key nor a variable: %+v", s)
		case seen[s.Key] || seen[s.Variable]:
			t.Errorf("%s: its key or variable is in the table twice", name)
		case s.Required && (s.Key == "" || s.Default != "" || s.DefaultKey != ""):
			t.Errorf("%s: required, yet without a key or with a default", name)
		case s.Variable != "" && len(s.Readers) == 0, s.Variable == "" && len(s.Readers) > 0:
			t.Errorf("%s: a variable needs the functions that read it, and only a variable has them", name)
		case s.DefaultKey != "":
			if from, ok := Lookup(s.DefaultKey); !ok || from.Key != s.DefaultKey {
				t.Errorf("%s: defaults to unknown key %s", name, s.DefaultKey)
			}
		}
		seen[s.Key], seen[s.Variable] = s.Key != "", s.Variable != ""
		for _, f := range s.Requirers {
			if !slices.Contains(s.Readers, f) {
				t.Errorf("%s: required by %s, which does not read it", name, f)
			}
		}
		var d Deployment
		if s.Default != "" {
			s.set(&d, s.mustParse(s.Default)) // panics on a bad default or a field of another type
		}
		if s.Example == "" || s.Example == s.Default {
			t.Errorf("%s: no example other than its default", name)
		}
		s.set(&d, s.mustParse(s.Example))
	}
}
