package config

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeTable returns the rows of the README's configuration table: one per context key or Lambda
// variable, its cells with the surrounding spaces trimmed.
func readmeTable(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal(`README.md has no "## Configuration" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 || rows[0][1] != "Lambda variable" {
		t.Fatalf("README's configuration table: want a header with a second column \"Lambda variable\", got %v", rows)
	}
	return rows[1:]
}

var documentedName = regexp.MustCompile("^`([A-Z][A-Z0-9_]*)`$")

// TestReadmeDocumentsEveryVariable fails when a variable is read by the Lambdas (Variables)
// and not documented in the README's one configuration table, or documented and not read.
func TestReadmeDocumentsEveryVariable(t *testing.T) {
	var documented []string
	for _, row := range readmeTable(t) {
		if row[1] == "" {
			continue
		}
		m := documentedName.FindStringSubmatch(row[1])
		if m == nil {
			t.Errorf("README configuration row %v: the variable cell must be one `NAME`", row)
			continue
		}
		if slices.Contains(documented, m[1]) {
			t.Errorf("README documents %s twice", m[1])
		}
		documented = append(documented, m[1])
	}
	for _, v := range Variables {
		if !slices.Contains(documented, v) {
			t.Errorf("%s is read by the Lambdas (config.Variables) but not in the README's configuration table", v)
		}
	}
	for _, v := range documented {
		if !slices.Contains(Variables, v) {
			t.Errorf("README documents %s, which no Lambda reads (config.Variables)", v)
		}
	}
}
