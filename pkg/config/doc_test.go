package config

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md's configuration table from Table")

const configurationDoc = "../../docs/configuration.md"

// TestConfigurationDocIsTheTable holds docs/configuration.md's configuration table to
// Table: a setting added, changed or removed in the code and not in the docs fails here.
// `go test ./pkg/config -run TestConfigurationDocIsTheTable -update` rewrites it.
func TestConfigurationDocIsTheTable(t *testing.T) {
	b, err := os.ReadFile(configurationDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	head, section, ok := strings.Cut(doc, "\n## Configuration\n")
	if !ok {
		t.Fatalf(`%s has no "## Configuration" section`, configurationDoc)
	}
	start := strings.Index(section, "\n|")
	if start < 0 {
		t.Fatalf("%s: no table in its Configuration section", configurationDoc)
	}
	start++
	end := strings.Index(section[start:], "\n\n")
	if end < 0 {
		end = len(section) - start
	}
	end += start + 1
	got, want := section[start:end], DocTable()
	if got == want {
		return
	}
	if *update {
		doc = head + "\n## Configuration\n" + section[:start] + want + section[end:]
		if err := os.WriteFile(configurationDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	gotRows, wantRows := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gotRows), len(wantRows)) {
		var g, w string
		if i < len(gotRows) {
			g = gotRows[i]
		}
		if i < len(wantRows) {
			w = wantRows[i]
		}
		if g != w {
			t.Errorf("%s's configuration table, row %d:\n got %s\nwant %s", configurationDoc, i+1, g, w)
		}
	}
	t.Errorf("%s's configuration table differs from config.Table: rerun with -update to write it", configurationDoc)
}

// TestREADMENamesTheRequiredKeys holds the README's list of required keys to Table.
func TestREADMENamesTheRequiredKeys(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "The required ones:")
	if !ok {
		t.Fatal(`README.md has no "The required ones:" in its Configuration section`)
	}
	list, _, _ := strings.Cut(after, ".")
	var named []string
	for _, m := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(list, -1) {
		named = append(named, m[1])
	}
	if !slices.Equal(named, RequiredKeys()) {
		t.Errorf("README.md names the required keys %v, config.Table %v", named, RequiredKeys())
	}
}
