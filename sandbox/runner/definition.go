package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// DistributedMapResource is the Resource of the Task state that stands in for a Distributed
// Map in the local definition: run.mjs runs the Map itself (see Localize).
const DistributedMapResource = "arn:aws:states:::local:distributedMap"

// The Step Functions limits the runner enforces as the service does.
const (
	// PayloadLimit is the most bytes (UTF-8) of a state's input or output, a task's
	// parameters or result, or an execution's input or output: 256 KiB. Beyond it the
	// execution fails with States.DataLimitExceeded, which States.ALL does not catch.
	PayloadLimit = 256 * 1024
	// HistoryLimit is the most history events one execution may have; a Distributed Map's
	// child executions have their own.
	HistoryLimit = 25000
)

// Local is a definition as the runner's interpreter runs it.
type Local struct {
	// Definition is the state machine with each Distributed Map replaced by a Task state of
	// resource DistributedMapResource that keeps the Map's InputPath, ResultSelector,
	// ResultPath, OutputPath, Retry, Catch and Next/End.
	Definition json.RawMessage `json:"definition"`
	// Maps holds each Distributed Map as written, by state name (unique in the whole
	// definition), its ItemProcessor localized the same way. run.mjs runs it with the
	// service's semantics: ItemReader (s3:getObject of a JSON array) or ItemsPath,
	// ItemSelector, each item a child execution of its own (its own history and payload
	// limits), MaxConcurrency, ToleratedFailurePercentage/Count, and ResultWriter (s3:putObject:
	// <Prefix>/<Map Run ID>/manifest.json and SUCCEEDED_0.json, FAILED_0.json,
	// PENDING_0.json) or, without one, the array of the children's outputs as the result.
	Maps map[string]json.RawMessage `json:"maps"`
}

// Localize returns definition as the local interpreter runs it. aws-local-stepfunctions runs
// every Map inline, in one execution, and ignores ItemReader and ResultWriter: so each
// Distributed Map becomes a Task state handed back to run.mjs, which starts one child
// execution per item, as the service does. A Task without a timeout gets
// UntimedTaskSeconds, not the interpreter's 60 s. Everything else stays as written.
func Localize(definition []byte) (*Local, error) {
	var def map[string]any
	dec := json.NewDecoder(bytes.NewReader(definition))
	dec.UseNumber()
	if err := dec.Decode(&def); err != nil {
		return nil, fmt.Errorf("local definition: decode: %w", err)
	}
	l := &Local{Maps: map[string]json.RawMessage{}}
	if err := l.localize(def, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("local definition: %w", err)
	}
	out, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("local definition: encode: %w", err)
	}
	l.Definition = out
	return l, nil
}

// LocalDefinition is Localize's definition alone.
func LocalDefinition(definition []byte) ([]byte, error) {
	l, err := Localize(definition)
	if err != nil {
		return nil, err
	}
	return l.Definition, nil
}

// mapTaskFields are the fields a Map shares with a Task state, kept on its stand-in.
var mapTaskFields = []string{"Comment", "InputPath", "ResultSelector", "ResultPath", "OutputPath", "Retry", "Catch", "Next", "End"}

// localize applies the transformation to one (sub-)state machine and, inside Map and
// Parallel states, to theirs; names records the state names seen, which must be unique.
func (l *Local) localize(machine map[string]any, names map[string]bool) error {
	states, ok := machine["States"].(map[string]any)
	if !ok {
		return fmt.Errorf("no States object")
	}
	for _, name := range sortedKeys(states) {
		if names[name] {
			return fmt.Errorf("state name %q is used twice: the local runner needs unique names", name)
		}
		names[name] = true
		state, ok := states[name].(map[string]any)
		if !ok {
			return fmt.Errorf("state %s: not an object", name)
		}
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if inner, ok := state[key].(map[string]any); ok {
				if err := l.localize(inner, names); err != nil {
					return fmt.Errorf("state %s: %w", name, err)
				}
			}
		}
		if branches, ok := state["Branches"].([]any); ok {
			for i, b := range branches {
				if inner, ok := b.(map[string]any); ok {
					if err := l.localize(inner, names); err != nil {
						return fmt.Errorf("state %s, branch %d: %w", name, i, err)
					}
				}
			}
		}
		untimed(state)
		if state["Type"] != "Map" {
			continue
		}
		processor, _ := state["ItemProcessor"].(map[string]any)
		config, _ := processor["ProcessorConfig"].(map[string]any)
		if config["Mode"] != "DISTRIBUTED" {
			if _, ok := state["ItemReader"]; ok {
				return fmt.Errorf("map %s: an ItemReader needs a Distributed Map", name)
			}
			continue
		}
		if reader, ok := state["ItemReader"].(map[string]any); ok {
			if _, set := state["ItemsPath"]; set {
				return fmt.Errorf("map %s: has both ItemReader and ItemsPath", name)
			}
			cfg, _ := reader["ReaderConfig"].(map[string]any)
			if cfg["InputType"] != "JSON" || reader["Resource"] != s3GetObject {
				return fmt.Errorf("map %s: the local runner's ItemReader reads a JSON array with %s (InputType JSON)", name, s3GetObject)
			}
		}
		if writer, ok := state["ResultWriter"].(map[string]any); ok && writer["Resource"] != s3PutObjectWriter {
			return fmt.Errorf("map %s: the local runner's ResultWriter writes with %s", name, s3PutObjectWriter)
		}
		raw, err := json.Marshal(state)
		if err != nil {
			return fmt.Errorf("map %s: %w", name, err)
		}
		l.Maps[name] = raw
		task := map[string]any{"Type": "Task", "Resource": DistributedMapResource}
		for _, f := range mapTaskFields {
			if v, ok := state[f]; ok {
				task[f] = v
			}
		}
		untimed(task)
		states[name] = task
	}
	return nil
}

// UntimedTaskSeconds is the TimeoutSeconds the local definition gives a Task that sets none:
// aws-local-stepfunctions would time it out after 60 s, Step Functions does not (a Lambda
// Task ends at the function's own timeout, which the runner enforces, and a Distributed
// Map when its children do). It is the longest timer Node keeps (2^31-1 ms).
const UntimedTaskSeconds = 2147483

func untimed(state map[string]any) {
	_, timeout := state["TimeoutSeconds"]
	_, path := state["TimeoutSecondsPath"]
	if state["Type"] == "Task" && !timeout && !path {
		state["TimeoutSeconds"] = UntimedTaskSeconds
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	return keys
}
