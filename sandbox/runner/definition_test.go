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

// TestLocalizeChangesOnlyTheDistributedMaps holds the runner to its documented
// transformations of the workflow: each Distributed Map becomes a Task of resource
// DistributedMapResource with the Map's own Task-like fields, and the Map as written is
// handed to run.mjs; a Task without a timeout gets UntimedTaskSeconds; putting the Maps back
// and taking those timeouts out gives the definition as written.
func TestLocalizeChangesOnlyTheDistributedMaps(t *testing.T) {
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
		want := map[string]any{"Type": "Task", "Resource": DistributedMapResource, "TimeoutSeconds": float64(UntimedTaskSeconds)}
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
	// Undo the transformations: the rest must be the definition as written.
	accountMap["ItemProcessor"].(map[string]any)["States"].(map[string]any)["NotifyOwners"] = notifyMap
	after["States"].(map[string]any)["ProcessAccounts"] = accountMap
	dropUntimed(after)
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

// dropUntimed takes the timeouts Localize adds out of a decoded definition.
func dropUntimed(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["Type"] == "Task" && x["TimeoutSeconds"] == float64(UntimedTaskSeconds) {
			delete(x, "TimeoutSeconds")
		}
		for _, inner := range x {
			dropUntimed(inner)
		}
	case []any:
		for _, inner := range x {
			dropUntimed(inner)
		}
	}
}
