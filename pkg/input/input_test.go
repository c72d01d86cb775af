package input

import (
	"slices"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	type doc struct {
		Name  string `json:"name"`
		Inner struct {
			Count int `json:"count"`
		} `json:"inner"`
	}
	tests := []struct {
		name       string
		raw        string
		wantFields []string
		wantText   string
	}{
		{"valid", `{"name":"a","inner":{"count":2}}`, nil, ""},
		{"unknown field", `{"nmae":"a"}`, []string{"nmae"}, "nmae: unknown field"},
		{"nested type error", `{"inner":{"count":"2"}}`, []string{"inner.count"}, "expected int, got JSON string"},
		{"not an object", `[1]`, []string{"(document)"}, "expected input.doc, got JSON array"},
		{"syntax", `{"name":`, nil, "ends too early"},
		{"empty", ``, nil, "empty input"},
		{"trailing", `{} []`, nil, "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tt.raw), &d)
			if got := Fields(err); !slices.Equal(got, tt.wantFields) {
				t.Errorf("fields %q, want %q (err %v)", got, tt.wantFields, err)
			}
			if (err == nil) != (tt.wantText == "") || err != nil && !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

func TestTime(t *testing.T) {
	if _, err := Time("asOf", "2026-11-25T13:00:00Z"); err != nil {
		t.Errorf("valid time rejected: %v", err)
	}
	_, err := Time("asOf", "2026-11-25")
	if got := Fields(err); !slices.Equal(got, []string{"asOf"}) {
		t.Errorf("fields %q, want [asOf]", got)
	}
}
