package secret

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const value = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

type withExported struct {
	Name   string
	Secret Secret
}

type withUnexported struct {
	name   string
	secret Secret
}

func TestSecretNeverShows(t *testing.T) {
	s := New(value)
	exported := withExported{Name: "alice", Secret: s}
	unexported := withUnexported{name: "alice", secret: s}
	pointer := &s

	tests := []struct {
		name string
		out  func() string
	}{
		{"%v", func() string { return fmt.Sprintf("%v", s) }},
		{"%s", func() string { return fmt.Sprintf("%s", s) }},
		{"%#v", func() string { return fmt.Sprintf("%#v", s) }},
		{"%+v", func() string { return fmt.Sprintf("%+v", s) }},
		{"%q", func() string { return fmt.Sprintf("%q", s) }},
		{"%x", func() string { return fmt.Sprintf("%x", s) }},
		{"%d", func() string { return fmt.Sprintf("%d", s) }},
		{"pointer %v", func() string { return fmt.Sprintf("%v", pointer) }},
		{"Println", func() string { return fmt.Sprintln(s) }},
		{"error %v", func() string { return fmt.Errorf("create key: %v", s).Error() }},
		{"exported field %+v", func() string { return fmt.Sprintf("%+v", exported) }},
		{"exported field %#v", func() string { return fmt.Sprintf("%#v", exported) }},
		{"unexported field %+v", func() string { return fmt.Sprintf("%+v", unexported) }},
		{"unexported field %#v", func() string { return fmt.Sprintf("%#v", unexported) }},
		{"slice %v", func() string { return fmt.Sprintf("%v", []Secret{s}) }},
		{"map %v", func() string { return fmt.Sprintf("%v", map[string]Secret{"k": s}) }},
		{"json.Marshal", func() string { b, _ := json.Marshal(s); return string(b) }},
		{"json.Marshal struct", func() string { b, _ := json.Marshal(exported); return string(b) }},
		{"json.Marshal pointer", func() string { b, _ := json.Marshal(pointer); return string(b) }},
		{"slog JSON", func() string { return logWith(t, jsonHandler, slog.Any("secret", s), slog.Any("user", exported)) }},
		{"slog text", func() string { return logWith(t, textHandler, slog.Any("secret", s), slog.Any("user", unexported)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := tc.out()
			if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
				t.Fatalf("output shows the secret: %s", out)
			}
			if !strings.Contains(out, Redacted) && !strings.Contains(out, "0x") {
				t.Fatalf("output shows neither %s nor a pointer: %s", Redacted, out)
			}
		})
	}
}

func TestRedactedForms(t *testing.T) {
	s := New(value)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	tests := []struct {
		name, got, want string
	}{
		{"String", s.String(), Redacted},
		{"GoString", s.GoString(), Redacted},
		{"LogValue", s.LogValue().String(), Redacted},
		{"MarshalJSON", string(b), `"[REDACTED]"`},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestReveal(t *testing.T) {
	tests := []struct {
		name     string
		s        Secret
		want     string
		wantZero bool
	}{
		{"value", New(value), value, false},
		{"empty", New(""), "", true},
		{"zero", Secret{}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Reveal(); got != tc.want {
				t.Errorf("Reveal() = %q, want %q", got, tc.want)
			}
			if got := tc.s.IsZero(); got != tc.wantZero {
				t.Errorf("IsZero() = %v, want %v", got, tc.wantZero)
			}
		})
	}
}

func jsonHandler(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }
func textHandler(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }

func logWith(t *testing.T, handler func(*bytes.Buffer) slog.Handler, attrs ...slog.Attr) string {
	t.Helper()
	var b bytes.Buffer
	slog.New(handler(&b)).LogAttrs(t.Context(), slog.LevelInfo, "key created", attrs...)
	return b.String()
}
