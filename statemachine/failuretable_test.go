package statemachine_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/report"
	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

// TestFailureTableListsEverySNSSubject holds docs/operations.md's table "What each message on
// the failure topic means" to what can reach the topic: the subject of every SNS publish in
// the ASL, the run alert and the run summary of CleanupReport (report.AlertSubjectPrefix,
// report.SummarySubjectPrefix) and the CloudWatch alarm's.
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
	var published []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if res, _ := v["Resource"].(string); strings.HasSuffix(res, ":states:::sns:publish") {
				params, _ := v["Parameters"].(map[string]any)
				subject, ok := params["Subject"].(string)
				if !ok {
					t.Errorf("an SNS publish of the ASL has no fixed Subject: %v", params)
				}
				published = append(published, subject)
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(def)
	if len(published) == 0 {
		t.Fatal("found no SNS publish in the ASL: the walk no longer reads it")
	}
	prefixes := append(published, report.AlertSubjectPrefix, report.SummarySubjectPrefix, `ALARM: "`+statemachine.Name+`-executions-failed"`)
	for _, want := range prefixes {
		found := false
		for _, row := range listed {
			found = found || strings.HasPrefix(row, want)
		}
		if !found {
			t.Errorf("docs/operations.md's failure table has no row for the subject %q (rows: %q)", want, listed)
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
