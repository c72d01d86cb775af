package sandbox

import (
	"fmt"
	"io"
	"log/slog"
	"sort"
)

// Secret holds a secret access key. Printing it, logging it with slog or marshalling it
// to JSON yields "[REDACTED]"; only Reveal returns the value.
type Secret struct{ value string }

const redacted = "[REDACTED]"

// NewSecret wraps value.
func NewSecret(value string) Secret { return Secret{value: value} }

// Reveal returns the secret itself, for signing requests with the key.
func (s Secret) Reveal() string { return s.value }

// String implements fmt.Stringer without the value.
func (s Secret) String() string { return redacted }

// GoString keeps %#v redacted too.
func (s Secret) GoString() string { return redacted }

// Format redacts every verb, also those (%d, %x of the struct) that would bypass String.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer without the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler without the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
