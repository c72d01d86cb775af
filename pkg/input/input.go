// Package input decodes untrusted JSON documents (execution input, plan input, scenario
// files) strictly, with errors that name the offending field: a key must be exactly a
// field's name (no other case), appear once per object and never hold null (omit a field
// instead), unknown fields and trailing data are errors, and a value of the wrong type is
// reported with its field's path.
package input

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// FieldError is a problem with one field of an input document or configuration.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Errorf builds a *FieldError.
func Errorf(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Decode unmarshals exactly one JSON value from raw into v, a pointer, strictly (see the
// package comment), and reports every problem with a field as a *FieldError. v is unchanged
// when a key, a repeated key or a null is refused.
func Decode(raw []byte, v any) error {
	t, err := decodeTarget(v)
	if err != nil {
		return err
	}
	if err := checkStrict(raw, t); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describe(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// Time parses an RFC 3339 time, naming field in the error.
func Time(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Errorf(field, "%q is not an RFC 3339 time such as 2026-11-25T13:00:00Z", s)
	}
	return t, nil
}

// Fields lists the fields named by the *FieldErrors in err, joined or wrapped.
func Fields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case *FieldError:
			out = append(out, x.Field)
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

func describe(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(document)"
		}
		return Errorf(field, "expected %s, got JSON %s", typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return fmt.Errorf("not valid JSON at byte %d: %w", syntaxErr.Offset, err)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return Errorf(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "unknown field")
	case errors.Is(err, io.EOF):
		return errors.New("empty input: expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("not valid JSON: the document ends too early")
	}
	return err
}
