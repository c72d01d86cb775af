package runner

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/keyrotator/iam-access-key-rotator/statemachine"
)

func render(t *testing.T) []byte {
	t.Helper()
	values := map[string]string{}
	for _, name := range statemachine.Placeholders {
		values[name] = "arn:aws:lambda:us-east-1:111122223333:function:" + name
	}
	values[statemachine.ReportBucketName] = "reports"
	values[statemachine.AccountConcurrency], values[statemachine.NotifyConcurrency] = "3", "2"
	values[statemachine.Partition] = "aws"
	def, err := statemachine.Render(values)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestLocalizeChangesOnlyTheDistributedMapsAndTimeouts holds the runner to its documented
// transformations of the workflow: each Distributed Map becomes a Task of resource
// DistributedMapResource with the Map's own Task-like fields, and the Map as written is
// handed to run.mjs; each Task gets TaskTimeout. Putting the Maps back and
// taking the timeouts away gives the definition as written.
func TestLocalizeChangesOnlyTheDistributedMapsAndTimeouts(t *testing.T) {
	def := render(t)
	local, err := Localize(def)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(local.Maps)); !slices.Equal(got, []string{"NotifyOwners", "ProcessAccounts"}) {
		t.Fatalf("distributed maps %v, want NotifyOwners and ProcessAccounts", got)
	}
	var before, after map[string]any
	if err := json.Unmarshal(def, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(local.Definition, &after); err != nil {
		t.Fatal(err)
	}
	decode := func(raw json.RawMessage) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	accountMap := decode(local.Maps["ProcessAccounts"])
	notifyMap := decode(local.Maps["NotifyOwners"])
	for name, m := range map[string]map[string]any{"ProcessAccounts": after["States"].(map[string]any)["ProcessAccounts"].(map[string]any),
		"NotifyOwners": accountMap["ItemProcessor"].(map[string]any)["States"].(map[string]any)["NotifyOwners"].(map[string]any)} {
		want := map[string]any{"Type": "Task", "Resource": DistributedMapResource, "TimeoutSeconds": float64(TaskTimeout)}
		written := decode(local.Maps[name])
		for _, f := range mapTaskFields {
			if v, ok := written[f]; ok {
				want[f] = v
			}
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("%s in the local definition: %v,\nwant %v", name, m, want)
		}
	}
	// Undo the transformations: the rest must be the definition as written (which sets no
	// TimeoutSeconds).
	accountMap["ItemProcessor"].(map[string]any)["States"].(map[string]any)["NotifyOwners"] = notifyMap
	after["States"].(map[string]any)["ProcessAccounts"] = accountMap
	for _, task := range tasks(after) {
		delete(task, "TimeoutSeconds")
	}
	if !reflect.DeepEqual(before, after) {
		t.Error("the local definition differs from the original beyond the Distributed Maps")
	}
}

func TestLocalizeRefusesWhatItCannotRun(t *testing.T) {
	def := string(render(t))
	tests := []struct{ name, from, to, want string }{
		{"CSV items", `"InputType": "JSON"`, `"InputType": "CSV"`, "reads a JSON array"},
		{"ItemsPath beside ItemReader", `"ItemReader": {`, `"ItemsPath": "$.x", "ItemReader": {`, "both ItemReader and ItemsPath"},
		{"ResultWriter elsewhere", `"Resource": "arn:aws:states:::s3:putObject"`, `"Resource": "arn:aws:states:::s3:listObjectsV2"`, "ResultWriter writes with"},
		{"name used twice", `"AccountDone": {`, `"CleanupReport": {`, "used twice"},
		{"ItemReader on an inline Map", `"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
              "StartAt": "NotifyUser"`, `"Mode": "INLINE"}, "StartAt": "NotifyUser"`, "needs a Distributed Map"},
		{"not JSON", `{`, `[`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := strings.Replace(def, tt.from, tt.to, 1)
			if changed == def {
				t.Fatalf("%q is not in the definition", tt.from)
			}
			_, err := Localize([]byte(changed))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// tasks returns every Task state of a (sub-)state machine by name, inner ones included.
func tasks(machine map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	states, _ := machine["States"].(map[string]any)
	for name, s := range states {
		state, _ := s.(map[string]any)
		if state["Type"] == "Task" {
			out[name] = state
		}
		if inner, ok := state["ItemProcessor"].(map[string]any); ok {
			maps.Copy(out, tasks(inner))
		}
	}
	return out
}

// TestLocalizeGivesTasksNoTimeout: Step Functions lets a Task without TimeoutSeconds run for
// 99999999 seconds (the Lambda's own timeout ends it first), but the interpreter fails it
// after 60 (the ASL specification's default): a 1,000-account Map, a Task here, failed with
// States.Timeout after a minute. Every Task, the Distributed Maps' stand-ins and the Tasks of
// their children included, gets TaskTimeout; one set in the definition stays. (Every run of
// the workflow, e.g. sandbox/e2e's, shows that the interpreter's timer takes TaskTimeout.)
func TestLocalizeGivesTasksNoTimeout(t *testing.T) {
	def := strings.Replace(string(render(t)), `"Type": "Task",`, `"Type": "Task", "TimeoutSeconds": 30,`, 1)
	local, err := Localize([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	var written, top map[string]any
	if err := json.Unmarshal([]byte(def), &written); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(local.Definition, &top); err != nil {
		t.Fatal(err)
	}
	all := tasks(top)
	for _, raw := range local.Maps {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		maps.Copy(all, tasks(m["ItemProcessor"].(map[string]any)))
	}
	set := 0
	for name, s := range tasks(written) {
		if s["TimeoutSeconds"] != nil {
			set++
			if all[name]["TimeoutSeconds"] != s["TimeoutSeconds"] {
				t.Errorf("task %s: TimeoutSeconds %v, want %v as written", name, all[name]["TimeoutSeconds"], s["TimeoutSeconds"])
			}
		}
	}
	if set != 1 {
		t.Fatalf("%d tasks with a TimeoutSeconds in the test's definition, want 1", set)
	}
	for _, name := range []string{"ListAccounts", "ProcessAccounts", "ScanAndRotate", "NotifyOwners", "NotifyUser", "CleanupReport"} {
		if _, ok := all[name]; !ok {
			t.Errorf("no task %s in the local definition", name)
		}
	}
	for name, s := range all {
		if w, ok := tasks(written)[name]; ok && w["TimeoutSeconds"] != nil {
			continue
		}
		if s["TimeoutSeconds"] != float64(TaskTimeout) {
			t.Errorf("task %s: TimeoutSeconds %v, want %d (else the interpreter fails it after 60 s)", name, s["TimeoutSeconds"], TaskTimeout)
		}
	}
}
