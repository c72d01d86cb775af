// Package secret holds values that must never reach a log line, an error, a payload or a
// printout by accident: secret access keys and zip passwords. A Secret prints, logs and
// marshals as "[REDACTED]"; only Reveal gives its value, so every use of the value is explicit.
package secret

import (
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Secret shows instead of its value.
const Redacted = "[REDACTED]"

// Secret is a value that prints, logs and marshals as Redacted.
//
// It keeps the value behind a pointer, not as a string: fmt prints the unexported fields of a
// struct by reflection without calling their methods, and a pointer then shows as an address,
// never as the value.
type Secret struct {
	value *string
}

// New wraps v.
func New(v string) Secret { return Secret{value: &v} }

// Reveal returns the value, "" for the zero Secret. Call it only where the value is used:
// when it is written into the zip, the password email or the IAM/Secrets Manager request.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsZero reports whether the Secret holds no value or the empty string.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// String implements fmt.Stringer.
func (Secret) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return Redacted }

// Format implements fmt.Formatter so that every verb (%d, %x, %q, ...) redacts, not only
// the ones fmt routes to String.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }
