package runner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestInterpreterEvaluatesIntrinsicsAsStepFunctions: run.mjs evaluates intrinsic functions
// as Step Functions does (intrinsics.mjs): States.JsonToString writes JSON that parses, with
// quotes and backslashes in the values escaped; a value keeps its backslashes; a literal's
// escapes \' \{ \} \\ are undone, and an escaped brace in a States.Format template is no
// placeholder; nested functions are evaluated. aws-local-stepfunctions alone strips every
// backslash from a function's result: the failure topic's per-protocol message, built with
// States.JsonToString from an error's Cause, would not parse.
func TestInterpreterEvaluatesIntrinsicsAsStepFunctions(t *testing.T) {
	root, err := repoRoot("")
	if err != nil {
		t.Fatal(err)
	}
	node, script, err := nodeScript(root)
	if err != nil {
		t.Fatal(err)
	}
	job := map[string]any{
		"definition": json.RawMessage(`{"StartAt": "A", "States": {
		  "A": {"Type": "Pass", "Parameters": {"text.$": "States.Format('{} \\{literal\\} it\\'s a\\\\b\ny', $.value)", "obj": {"v.$": "$.value"}},
		    "ResultPath": "$.built", "Next": "B"},
		  "B": {"Type": "Pass", "Parameters": {"text.$": "$.built.text", "json.$": "States.JsonToString($.built.obj)",
		    "account.$": "States.ArrayGetItem(States.StringSplit($$.Execution.Id, ':'), 4)"}, "End": true}}}`),
		"maps":  map[string]any{},
		"input": map[string]any{"value": `say "hi" \ bye`},
		"context": map[string]any{"Execution": map[string]any{"Id": "arn:aws:states:us-east-1:111122223333:execution:m:x", "Name": "x"},
			"StateMachine": map[string]any{"Name": "m"}},
	}
	body, _ := json.Marshal(job)
	cmd := exec.CommandContext(context.Background(), node, script)
	cmd.Dir = filepath.Dir(script)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run.mjs: %v", err)
	}
	var last []byte
	for sc := bufio.NewScanner(bytes.NewReader(out)); sc.Scan(); {
		last = sc.Bytes()
	}
	var line struct {
		Result struct {
			Status string
			Output struct{ Text, JSON, Account string }
		}
	}
	if err := json.Unmarshal(last, &line); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	got := line.Result.Output
	if want := `say "hi" \ bye {literal} it's a\b` + "\ny"; got.Text != want {
		t.Errorf("States.Format gives %q, want %q", got.Text, want)
	}
	var obj struct{ V string }
	if err := json.Unmarshal([]byte(got.JSON), &obj); err != nil || obj.V != `say "hi" \ bye` {
		t.Errorf("States.JsonToString gives %s (%v), want JSON of the value", got.JSON, err)
	}
	if got.Account != "111122223333" {
		t.Errorf("nested functions give %q, want the account", got.Account)
	}
}
