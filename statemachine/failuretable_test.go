package statemachine_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestFailureTableListsEverySNSSubject holds docs/operations.md's table "What each message on
// the failure topic means" to what can reach the topic: the subject of every SNS publish in
// the ASL, of every SNS message the Go code builds (CleanupReport's run alert and summary,
// found in the source, not listed here: a new one fails this test until the table has its
// row) and of every CloudWatch alarm the CDK app makes.
func TestFailureTableListsEverySNSSubject(t *testing.T) {
	doc, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(doc)
	start := strings.Index(section, "## What each message on the failure topic means")
	if start < 0 {
		t.Fatal("docs/operations.md has no section \"What each message on the failure topic means\"")
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)`").FindAllStringSubmatch(section, -1) {
		listed = append(listed, m[1])
	}

	asl, err := statemachine.Render(values())
	if err != nil {
		t.Fatal(err)
	}
	var def any
	if err := json.Unmarshal(asl, &def); err != nil {
		t.Fatal(err)
	}
	var published []subject
	var walk func(v any, name string)
	walk = func(v any, name string) {
		switch v := v.(type) {
		case map[string]any:
			if res, _ := v["Resource"].(string); strings.HasSuffix(res, ":states:::sns:publish") {
				params, _ := v["Parameters"].(map[string]any)
				s, ok := params["Subject"].(string)
				if !ok {
					t.Errorf("an SNS publish of the ASL has no fixed Subject: %v", params)
				}
				published = append(published, subject{s, "rotation.asl.json, state " + name})
			}
			for key, child := range v {
				walk(child, key)
			}
		case []any:
			for _, child := range v {
				walk(child, name)
			}
		}
	}
	walk(def, "")
	if len(published) == 0 {
		t.Fatal("found no SNS publish in the ASL: the walk no longer reads it")
	}
	src := readGoSource(t, "..")
	fromGo, alarms := src.snsSubjects(t), src.alarmSubjects(t)
	if len(fromGo) == 0 || len(alarms) == 0 {
		t.Fatalf("found %d SNS messages in the Go code and %d alarms in infra/: the search no longer reads them", len(fromGo), len(alarms))
	}
	for _, want := range slices.Concat(published, fromGo, alarms) {
		t.Logf("subject %q (%s)", want.prefix, want.at)
		found := false
		for _, row := range listed {
			found = found || strings.HasPrefix(row, want.prefix)
		}
		if !found {
			t.Errorf("docs/operations.md's failure table has no row for the subject %q (%s; rows: %q)", want.prefix, want.at, listed)
		}
	}
}

// TestDesignDocListsEveryPlaceholder: docs/design.md names every substitution the ASL gets.
func TestDesignDocListsEveryPlaceholder(t *testing.T) {
	doc, err := os.ReadFile("../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range statemachine.Placeholders {
		if !strings.Contains(string(doc), "`${"+p+"}`") {
			t.Errorf("docs/design.md does not list the placeholder ${%s}", p)
		}
	}
}

// TestDesignPackageMapListsEveryPackage: docs/design.md's package map (the table after "What
// each step does is in the packages beside it in this map") names every package of pkg/, and
// none that is gone.
func TestDesignPackageMapListsEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "What each step does is in the packages beside it in this map")
	if !ok {
		t.Fatal("docs/design.md has no package map")
	}
	var table []string
	for _, line := range strings.Split(after, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			if len(table) > 0 {
				break
			}
			continue
		}
		table = append(table, line)
	}
	mapped := map[string]bool{}
	for _, m := range regexp.MustCompile("`pkg/([a-z0-9]+)`").FindAllStringSubmatch(strings.Join(table, "\n"), -1) {
		mapped[m[1]] = true
	}
	dirs, err := os.ReadDir("../pkg")
	if err != nil {
		t.Fatal(err)
	}
	packages := map[string]bool{}
	for _, d := range dirs {
		if d.IsDir() {
			packages[d.Name()] = true
			if !mapped[d.Name()] {
				t.Errorf("docs/design.md's package map does not list pkg/%s", d.Name())
			}
		}
	}
	for name := range mapped {
		if !packages[name] {
			t.Errorf("docs/design.md's package map lists pkg/%s, which does not exist", name)
		}
	}
}
