package runner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// ItemsPathField is where the local definition puts the items an ItemReader read: the
// Map's ItemsPath is "$." + ItemsPathField.
const ItemsPathField = "itemReaderItems"

// itemReaderSuffix names the Task state that stands in for a Map's ItemReader.
const itemReaderSuffix = " ItemReader"

// LocalDefinition returns definition as the local interpreter runs it. aws-local-stepfunctions
// runs every Map inline and ignores ItemReader, so this is the one transformation: each Map
// with an ItemReader gets a Task state just before it, named "<Map> ItemReader", with the
// ItemReader's own Resource and Parameters (evaluated against the Map's input, as the
// service does) and the Map's Catch, whose result goes to $.itemReaderItems; the Map loses
// its ItemReader and reads ItemsPath $.itemReaderItems instead. Transitions into the Map
// go to its reader. Everything else stays as written.
func LocalDefinition(definition []byte) ([]byte, error) {
	var def map[string]any
	dec := json.NewDecoder(bytes.NewReader(definition))
	dec.UseNumber()
	if err := dec.Decode(&def); err != nil {
		return nil, fmt.Errorf("local definition: decode: %w", err)
	}
	if err := rewriteItemReaders(def); err != nil {
		return nil, fmt.Errorf("local definition: %w", err)
	}
	out, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("local definition: encode: %w", err)
	}
	return out, nil
}

// rewriteItemReaders applies the transformation to one (sub-)state machine and, inside
// Map and Parallel states, to theirs.
func rewriteItemReaders(machine map[string]any) error {
	states, ok := machine["States"].(map[string]any)
	if !ok {
		return fmt.Errorf("no States object")
	}
	for _, name := range sortedKeys(states) {
		state, ok := states[name].(map[string]any)
		if !ok {
			return fmt.Errorf("state %s: not an object", name)
		}
		for _, key := range []string{"ItemProcessor", "Iterator"} {
			if inner, ok := state[key].(map[string]any); ok {
				if err := rewriteItemReaders(inner); err != nil {
					return fmt.Errorf("state %s: %w", name, err)
				}
			}
		}
		if branches, ok := state["Branches"].([]any); ok {
			for i, b := range branches {
				if inner, ok := b.(map[string]any); ok {
					if err := rewriteItemReaders(inner); err != nil {
						return fmt.Errorf("state %s, branch %d: %w", name, i, err)
					}
				}
			}
		}
		reader, ok := state["ItemReader"].(map[string]any)
		if !ok || state["Type"] != "Map" {
			continue
		}
		if _, set := state["ItemsPath"]; set {
			return fmt.Errorf("map %s: has both ItemReader and ItemsPath", name)
		}
		if cfg, ok := reader["ReaderConfig"].(map[string]any); ok && cfg["InputType"] != nil && cfg["InputType"] != "JSON" {
			return fmt.Errorf("map %s: ItemReader InputType %v: the local runner reads JSON arrays only", name, cfg["InputType"])
		}
		readerName := name + itemReaderSuffix
		if _, clash := states[readerName]; clash {
			return fmt.Errorf("map %s: a state named %q exists already", name, readerName)
		}
		task := map[string]any{
			"Type":       "Task",
			"Comment":    "Local runner: the ItemReader of " + name + ", run as a Task (the local interpreter runs only inline Maps).",
			"Resource":   reader["Resource"],
			"ResultPath": "$." + ItemsPathField,
			"Next":       name,
		}
		if params, ok := reader["Parameters"]; ok {
			task["Parameters"] = params
		}
		if catch, ok := state["Catch"]; ok {
			task["Catch"] = catch
		}
		delete(state, "ItemReader")
		state["ItemsPath"] = "$." + ItemsPathField
		retarget(machine, states, name, readerName)
		states[readerName] = task
	}
	return nil
}

// retarget points StartAt and every Next, Default and Catch Next that name from at to.
func retarget(machine, states map[string]any, from, to string) {
	if machine["StartAt"] == from {
		machine["StartAt"] = to
	}
	for _, s := range states {
		state, _ := s.(map[string]any)
		if state["Next"] == from {
			state["Next"] = to
		}
		if state["Default"] == from {
			state["Default"] = to
		}
		for _, key := range []string{"Choices", "Catch"} {
			list, _ := state[key].([]any)
			for _, item := range list {
				if rule, ok := item.(map[string]any); ok && rule["Next"] == from {
					rule["Next"] = to
				}
			}
		}
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
