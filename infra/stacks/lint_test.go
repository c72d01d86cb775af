package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// toolsBin is where `make infra-tools` installs cfn-lint and checkov.
func toolsBin() string {
	if dir := os.Getenv("INFRA_TOOLS_BIN"); dir != "" {
		return dir
	}
	abs, _ := filepath.Abs("../../.venv/infra-tools/bin")
	return abs
}

func tool(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(toolsBin(), name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found at %s: run `make infra-tools` (installs infra/requirements.txt into .venv/infra-tools)", name, path)
	}
	return path
}

// synthesizedTemplates synthesizes the default app (app.Synth) and copies its templates,
// and the member-role template its StackSet deploys, into a fresh directory; with strip,
// without their checkov skips.
func synthesizedTemplates(t *testing.T, strip bool) (string, []string) {
	t.Helper()
	assembly := *defaultApp(t).app.Synth(nil).Directory()
	sources, err := filepath.Glob(filepath.Join(assembly, "*.template.json"))
	if err != nil || len(sources) != 3 {
		t.Fatalf("want the 3 stack templates in %s, got %v (%v)", assembly, sources, err)
	}
	templates := map[string]map[string]any{"member-role.template.json": memberTemplate(t, testConfig(t, nil))}
	for _, src := range sources {
		raw, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		var template map[string]any
		if err := json.Unmarshal(raw, &template); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		templates[filepath.Base(src)] = template
	}
	dir := t.TempDir()
	var files []string
	for name, template := range templates {
		if strip {
			for _, r := range template["Resources"].(map[string]any) {
				if meta, ok := r.(map[string]any)["Metadata"].(map[string]any); ok {
					delete(meta, "checkov")
				}
			}
		}
		raw, err := json.MarshalIndent(template, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	sort.Strings(files)
	return dir, files
}

func TestCfnLint(t *testing.T) {
	cfnLint := tool(t, "cfn-lint")
	_, files := synthesizedTemplates(t, false)
	cmd := exec.Command(cfnLint, append([]string{"--config-file", "../.cfnlintrc.yaml", "--"}, files...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("cfn-lint found problems in %d templates (%v):\n%s", len(files), err, out)
	}
}

// checkovResult is the part of checkov's JSON report the tests read.
type checkovResult struct {
	Results struct {
		FailedChecks  []checkovCheck `json:"failed_checks"`
		SkippedChecks []checkovCheck `json:"skipped_checks"`
		PassedChecks  []checkovCheck `json:"passed_checks"`
	} `json:"results"`
}

type checkovCheck struct {
	CheckID  string `json:"check_id"`
	Resource string `json:"resource"`
	File     string `json:"file_path"`
	Suppress struct {
		Comment string `json:"suppress_comment"`
	} `json:"check_result"`
}

func (c checkovCheck) String() string {
	return fmt.Sprintf("%s %s (%s)", c.CheckID, c.Resource, filepath.Base(c.File))
}

func runCheckov(t *testing.T, dir string) checkovResult {
	t.Helper()
	cmd := exec.Command(tool(t, "checkov"), "--config-file", "../.checkov.yaml", "-d", dir, "-o", "json")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) { // exit status 1 only says that checks failed
		t.Fatalf("run checkov: %v", err)
	}
	var result checkovResult
	if err := json.Unmarshal(out, &result); err != nil {
		t.Fatalf("checkov report is not JSON (%v): %.2000s", err, out)
	}
	return result
}

func TestCheckov(t *testing.T) {
	dir, _ := synthesizedTemplates(t, false)
	result := runCheckov(t, dir)
	for _, c := range result.Results.FailedChecks {
		t.Errorf("checkov failed: %s", c)
	}
	if len(result.Results.PassedChecks) < 100 {
		t.Errorf("checkov passed only %d checks: did it read the templates?", len(result.Results.PassedChecks))
	}
	t.Logf("checkov: %d passed, %d failed, %d skipped", len(result.Results.PassedChecks),
		len(result.Results.FailedChecks), len(result.Results.SkippedChecks))
	for _, c := range result.Results.SkippedChecks {
		t.Logf("skipped %s: %s", c, c.Suppress.Comment)
	}

	// Every skip must still be needed: without the skips, exactly the skipped checks fail.
	strippedDir, _ := synthesizedTemplates(t, true)
	stripped := runCheckov(t, strippedDir)
	ids := func(checks []checkovCheck) []string {
		var out []string
		for _, c := range checks {
			out = append(out, c.CheckID+" "+c.Resource)
		}
		sort.Strings(out)
		return out
	}
	if got, want := ids(stripped.Results.FailedChecks), ids(result.Results.SkippedChecks); !reflect.DeepEqual(got, want) {
		t.Errorf("without the skips, checkov fails\n%s\nbut the skips are\n%s\n(remove a skip that is not needed, reason one that is)",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
