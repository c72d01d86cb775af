package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keyrotator/iam-access-key-rotator/pkg/awsclient"
	"github.com/keyrotator/iam-access-key-rotator/sandbox"
	"github.com/keyrotator/iam-access-key-rotator/sandbox/runner"
)

// fanOut is a definition (a template with the workflow's placeholders) of one Distributed
// Map over the JSON array at $.key, each child a Pass, caught by a Catch of States.ALL;
// writer is the Map's ResultWriter ("" for none).
func fanOut(writer string) []byte {
	return []byte(`{"StartAt": "Fan", "States": {
	  "Fan": {"Type": "Map",
	    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
	      "Parameters": {"Bucket": "${ReportBucketName}", "Key.$": "$.key"}},
	    "MaxConcurrency": 20, "ToleratedFailurePercentage": 100, ` + writer + `
	    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Child",
	      "States": {"Child": {"Type": "Map", "ItemsPath": "$.spin", "ItemProcessor": {"StartAt": "Spin", "States": {"Spin": {"Type": "Pass", "End": true}}},
	        "ResultPath": null, "End": true}}},
	    "ResultPath": "$.fan", "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Caught"}], "End": true},
	  "Caught": {"Type": "Pass", "End": true}}}`)
}

// TestRunnerEnforcesTheServiceLimits: the local runner fails an execution as Step Functions
// does when a payload exceeds 256 KiB (States.DataLimitExceeded, not caught by States.ALL)
// or its history exceeds 25,000 events, counts a Distributed Map's children as executions
// of their own, and says the largest payload and the most events of one execution. Sizes:
// 300 children of 1 KB each (their collected outputs are 300 KB), and one child whose
// inline Map of 6,300 items makes 4 × 6,300 > 25,000 events.
func TestRunnerEnforcesTheServiceLimits(t *testing.T) {
	o := start(t, demoScenario)
	ctx := context.Background()
	res := o.resources(t)
	client := s3.NewFromConfig(sandbox.Config(o.sb.URL), awsclient.PathStyle)
	put := func(key string, items []map[string]any) {
		body, _ := json.Marshal(items)
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: &res.Bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	object := func(key string) []byte {
		t.Helper()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &res.Bucket, Key: &key})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer out.Body.Close()
		b, _ := io.ReadAll(out.Body)
		return b
	}
	var small, big []map[string]any
	for i := range 300 {
		small = append(small, map[string]any{"i": i, "pad": strings.Repeat("x", 1000), "spin": []int{}})
	}
	spin := make([]int, 6300)
	big = append(big, map[string]any{"spin": spin}, map[string]any{"spin": []int{1}})
	put("runs/limits/small.json", small)
	put("runs/limits/big.json", big)
	run := func(def []byte, key string) *runner.Execution {
		t.Helper()
		ex, err := runner.Run(ctx, runner.Options{Endpoint: o.sb.URL, Input: json.RawMessage(`{"key":"` + key + `"}`),
			Settings: o.settings, BinDir: binDir, RetryInterval: 50 * time.Millisecond, Definition: def})
		if err != nil {
			t.Fatal(err)
		}
		return ex
	}

	t.Run("collected outputs over 256 KiB fail the execution, uncaught", func(t *testing.T) {
		ex := run(fanOut(""), "runs/limits/small.json")
		if ex.Status != "FAILED" || ex.Error != "States.DataLimitExceeded" || !strings.Contains(ex.Cause, "the result of Map Fan") {
			t.Errorf("%s %s: %s, want FAILED with States.DataLimitExceeded for the Map's result", ex.Status, ex.Error, ex.Cause)
		}
		if ex.Stats.LargestPayload <= runner.PayloadLimit || len(ex.Children) != 300 {
			t.Errorf("largest payload %d bytes, %d children; want over %d and 300", ex.Stats.LargestPayload, len(ex.Children), runner.PayloadLimit)
		}
	})
	t.Run("a ResultWriter keeps them in S3", func(t *testing.T) {
		ex := run(fanOut(`"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "${ReportBucketName}", "Prefix": "runs/limits/results"}},`), "runs/limits/small.json")
		if !ex.Succeeded() {
			t.Fatalf("%s %s: %s", ex.Status, ex.Error, ex.Cause)
		}
		var out struct {
			Fan struct {
				MapRunArn           string
				ResultWriterDetails struct{ Bucket, Key string }
			} `json:"fan"`
		}
		if err := json.Unmarshal(ex.Output, &out); err != nil {
			t.Fatal(err)
		}
		var manifest struct {
			MapRunArn   string
			ResultFiles map[string][]struct{ Key string }
		}
		if err := json.Unmarshal(object(out.Fan.ResultWriterDetails.Key), &manifest); err != nil {
			t.Fatal(err)
		}
		var results []struct{ Status, Output string }
		if len(manifest.ResultFiles["SUCCEEDED"]) != 1 || manifest.MapRunArn != out.Fan.MapRunArn {
			t.Fatalf("manifest %+v for output %+v", manifest, out)
		}
		if err := json.Unmarshal(object(manifest.ResultFiles["SUCCEEDED"][0].Key), &results); err != nil || len(results) != 300 {
			t.Fatalf("%d results (%v), want 300", len(results), err)
		}
		if !strings.HasPrefix(out.Fan.ResultWriterDetails.Key, "runs/limits/results/") || ex.Stats.LargestPayload > 2000 {
			t.Errorf("manifest at %s, largest payload %d bytes (%s)", out.Fan.ResultWriterDetails.Key, ex.Stats.LargestPayload, ex.Stats.LargestPayloadAt)
		}
	})
	t.Run("a child over 25,000 events fails, the others go on", func(t *testing.T) {
		ex := run(fanOut(`"ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "${ReportBucketName}", "Prefix": "runs/limits/history"}},`), "runs/limits/big.json")
		if !ex.Succeeded() || len(ex.Children) != 2 {
			t.Fatalf("%s %s: %s (%d children)", ex.Status, ex.Error, ex.Cause, len(ex.Children))
		}
		status := map[int]string{}
		for _, c := range ex.Children {
			status[c.Index] = c.Status + " " + c.Error
		}
		if status[0] != "FAILED States.Runtime" || status[1] != "SUCCEEDED " {
			t.Errorf("children ended %v, want the first FAILED with States.Runtime (history limit), the second SUCCEEDED", status)
		}
		if ex.Stats.MostEvents <= runner.HistoryLimit || !strings.HasSuffix(ex.Stats.MostEventsIn, "/Fan/0") {
			t.Errorf("most events %d in %s, want over %d in child 0", ex.Stats.MostEvents, ex.Stats.MostEventsIn, runner.HistoryLimit)
		}
		var summary strings.Builder
		ex.Summary(&summary)
		if want := fmt.Sprintf("most history events in one: %d of 25000", ex.Stats.MostEvents); !strings.Contains(summary.String(), want) {
			t.Errorf("the run summary does not say %q:\n%s", want, summary.String())
		}
	})
}
