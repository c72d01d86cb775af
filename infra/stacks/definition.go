package stacks

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/keyrotator/iam-access-key-rotator/infra/contract"
)

// loadDefinition reads the state machine's ASL file and checks, before anything is
// deployed, that it substitutes to valid JSON and uses no placeholder the stack does
// not substitute.
func loadDefinition(path string) (string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read state machine definition: %w", err)
	}
	if err := contract.CheckPlaceholders(raw); err != nil {
		return "", fmt.Errorf("state machine definition %s: %w", path, err)
	}
	// Placeholders may stand for numbers (MaxConcurrency: ${AccountConcurrency}), so the
	// file is JSON only once substituted: try it with 0 for every placeholder.
	sample := string(raw)
	for _, name := range contract.DefinitionPlaceholders {
		sample = strings.ReplaceAll(sample, "${"+name+"}", "0")
	}
	var asl struct {
		StartAt string                     `json:"StartAt"`
		States  map[string]json.RawMessage `json:"States"`
	}
	if err := json.Unmarshal([]byte(sample), &asl); err != nil {
		return "", fmt.Errorf("state machine definition %s: not valid JSON after substitution: %w", path, err)
	}
	if asl.StartAt == "" || asl.States[asl.StartAt] == nil {
		return "", fmt.Errorf("state machine definition %s: StartAt %q names no state of States", path, asl.StartAt)
	}
	return string(raw), nil
}
