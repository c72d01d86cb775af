package stacks

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/pkg/config"
)

// configurationTable returns the rows of the one configuration table (docs/configuration.md) (context key,
// Lambda variable, default, meaning), the cells trimmed, the header left out.
func configurationTable(t *testing.T) [][]string {
	t.Helper()
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Configuration\n")
	if !ok {
		t.Fatal(`docs/configuration.md has no "## Configuration" section`)
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
	if len(rows) < 2 || !slices.Equal(rows[0][:3], []string{"context key", "Lambda variable", "default"}) {
		t.Fatalf("docs/configuration.md's table: want the columns context key, Lambda variable, default, meaning; got %v", rows)
	}
	return rows[1:]
}

// TestConfigurationDocListsEveryContextKey holds the configuration table (docs/configuration.md) to ContextKeys
// and their defaults: a key added to the app and not documented fails here.
func TestConfigurationDocListsEveryContextKey(t *testing.T) {
	documented := map[string]string{} // context key -> default cell
	for _, row := range configurationTable(t) {
		key := strings.Trim(row[0], "`")
		if key == "" {
			continue
		}
		if _, twice := documented[key]; twice {
			t.Errorf("docs/configuration.md documents %s twice", key)
		}
		documented[key] = row[2]
	}
	for _, key := range ContextKeys {
		cell, ok := documented[key]
		if !ok {
			t.Errorf("context key %s is read by the app (ContextKeys) but not in the configuration table (docs/configuration.md)", key)
			continue
		}
		want := "required"
		switch def, hasDefault := defaults[key]; {
		case key == keyStackSetAdminAccountID:
			want = "`" + keyManagementAccountID + "`"
		case hasDefault && def == "":
			want = "none"
		case hasDefault:
			want = fmt.Sprintf("`%v`", def)
		}
		if cell != want {
			t.Errorf("docs/configuration.md gives %s the default %s, the app %s", key, cell, want)
		}
	}
	for key := range documented {
		if !slices.Contains(ContextKeys, key) {
			t.Errorf("docs/configuration.md documents context key %s, which the app does not read", key)
		}
	}
}

var variableCell = regexp.MustCompile("^`([A-Z][A-Z0-9_]*)`$")

// TestConfigurationDocListsEveryVariable fails when a variable is read by the Lambdas
// (config.Variables) and not documented in the configuration table (docs/configuration.md), or
// documented and not read.
func TestConfigurationDocListsEveryVariable(t *testing.T) {
	var documented []string
	for _, row := range configurationTable(t) {
		if row[1] == "" {
			continue
		}
		m := variableCell.FindStringSubmatch(row[1])
		if m == nil {
			t.Errorf("docs/configuration.md row %v: the variable cell must be one `NAME`", row)
			continue
		}
		if slices.Contains(documented, m[1]) {
			t.Errorf("docs/configuration.md documents %s twice", m[1])
		}
		documented = append(documented, m[1])
	}
	for _, v := range config.Variables {
		if !slices.Contains(documented, v) {
			t.Errorf("%s is read by the Lambdas (config.Variables) but not in the configuration table (docs/configuration.md)", v)
		}
	}
	for _, v := range documented {
		if !slices.Contains(config.Variables, v) {
			t.Errorf("docs/configuration.md documents %s, which no Lambda reads (config.Variables)", v)
		}
	}
}
