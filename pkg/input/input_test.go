package input

import (
	"encoding/json"
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

// TestDecodeIsExactAboutKeysAndNull: encoding/json matches keys case-insensitively (the last
// of "dryRun" and "DRYRUN" wins), takes null as "leave the zero value" and lets a repeated
// key override the first; each would let a document mean something other than it says
// (some once ran for real), so Decode refuses them all, naming the field.
func TestDecodeIsExactAboutKeysAndNull(t *testing.T) {
	type key struct {
		ID string `json:"id"`
	}
	type base struct {
		Region string `json:"region"`
	}
	type doc struct {
		base
		DryRun   *bool             `json:"dryRun"`
		Accounts *[]string         `json:"accounts"`
		Keys     []key             `json:"keys"`
		Tags     map[string]string `json:"tags"`
		Limit    int               `json:"limit,omitempty"`
		Extra    json.RawMessage   `json:"extra"`
		Skipped  string            `json:"-"`
		Untagged string
	}
	tests := []struct {
		name      string
		raw       string
		wantField string
		wantText  string
	}{
		{"exact keys", `{"dryRun":true,"accounts":["1"],"keys":[{"id":"a"}],"tags":{"A":"b","a":"c"},"limit":1,"region":"x","Untagged":"u"}`, "", ""},
		{"null in a RawMessage is the consumer's business", `{"extra":null}`, "", ""},
		{"another case of a key", `{"DRYRUN":true}`, "DRYRUN", `did you mean "dryRun"`},
		{"the same key in two cases", `{"dryRun":true,"DRYRUN":false}`, "DRYRUN", "case-sensitive"},
		{"a nested key in another case", `{"keys":[{"ID":"a"}]}`, "keys[0].ID", `did you mean "id"`},
		{"an embedded struct's key in another case", `{"Region":"x"}`, "Region", `did you mean "region"`},
		{"an untagged field in another case", `{"untagged":"u"}`, "untagged", `did you mean "Untagged"`},
		{"a field json ignores", `{"Skipped":"x"}`, "Skipped", "unknown field"},
		{"a nested unknown key", `{"keys":[{"key":"a"}]}`, "keys[0].key", "unknown field"},
		{"null for a pointer", `{"dryRun":null}`, "dryRun", "must not be null"},
		{"null for a list", `{"accounts":null}`, "accounts", "must not be null"},
		{"null for a number", `{"limit":null}`, "limit", "must not be null"},
		{"null in a list", `{"keys":[{"id":"a"},null]}`, "keys[1]", "must not be null"},
		{"null in a map", `{"tags":{"A":null}}`, "tags.A", "must not be null"},
		{"null document", `null`, "(document)", "must not be null"},
		{"a key twice", `{"limit":1,"limit":2}`, "limit", "appears twice"},
		{"a map key twice", `{"tags":{"A":"b","A":"c"}}`, "tags.A", "appears twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tt.raw), &d)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if got := Fields(err); !slices.Equal(got, []string{tt.wantField}) {
				t.Errorf("fields %q, want [%s] (err %v)", got, tt.wantField, err)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
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
