package runner

import (
	"encoding/json"
	"reflect"
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
	def, err := statemachine.Render(values)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestLocalDefinitionChangesOnlyTheItemReader holds the runner to its one documented
// transformation of the workflow.
func TestLocalDefinitionChangesOnlyTheItemReader(t *testing.T) {
	def := render(t)
	local, err := LocalDefinition(def)
	if err != nil {
		t.Fatal(err)
	}
	var before, after map[string]any
	if err := json.Unmarshal(def, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(local, &after); err != nil {
		t.Fatal(err)
	}
	states := before["States"].(map[string]any)
	localStates := after["States"].(map[string]any)
	mapState := states["ProcessAccounts"].(map[string]any)
	reader := localStates["ProcessAccounts ItemReader"].(map[string]any)
	itemReader := mapState["ItemReader"].(map[string]any)
	want := map[string]any{
		"Type": "Task", "Comment": reader["Comment"], "Resource": itemReader["Resource"], "Parameters": itemReader["Parameters"],
		"ResultPath": "$.itemReaderItems", "Catch": mapState["Catch"], "Next": "ProcessAccounts",
	}
	if !reflect.DeepEqual(reader, want) {
		t.Errorf("reader state %v,\nwant %v", reader, want)
	}
	// Undo the transformation: the rest must be the definition as written.
	localMap := localStates["ProcessAccounts"].(map[string]any)
	if localMap["ItemsPath"] != "$.itemReaderItems" {
		t.Errorf("ProcessAccounts ItemsPath %v", localMap["ItemsPath"])
	}
	delete(localMap, "ItemsPath")
	localMap["ItemReader"] = itemReader
	delete(localStates, "ProcessAccounts ItemReader")
	localStates["ListAccounts"].(map[string]any)["Next"] = "ProcessAccounts"
	if !reflect.DeepEqual(before, after) {
		t.Error("the local definition differs from the original beyond the ItemReader")
	}
}

func TestLocalDefinitionRefusesWhatItCannotRun(t *testing.T) {
	def := string(render(t))
	tests := []struct{ name, from, to, want string }{
		{"CSV items", `"InputType": "JSON"`, `"InputType": "CSV"`, "reads JSON arrays only"},
		{"ItemsPath beside ItemReader", `"ItemReader": {`, `"ItemsPath": "$.x", "ItemReader": {`, "both ItemReader and ItemsPath"},
		{"name clash", `"CleanupReport": {`, `"ProcessAccounts ItemReader": {"Type": "Pass", "End": true}, "CleanupReport": {`, "exists already"},
		{"not JSON", `{`, `[`, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LocalDefinition([]byte(strings.Replace(def, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
