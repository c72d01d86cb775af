package config

import "strings"

// DocTable is docs/configuration.md's configuration table, written from Table: each
// setting's context key, variable, default, valid values and meaning.
func DocTable() string {
	var b strings.Builder
	b.WriteString("| context key | Lambda variable | default | valid values | meaning |\n|---|---|---|---|---|\n")
	code := func(s string) string {
		if s == "" {
			return ""
		}
		return "`" + s + "`"
	}
	for _, s := range Table {
		def := "none"
		switch {
		case s.Required:
			def = "required"
		case s.DefaultKey != "":
			def = code(s.DefaultKey)
		case s.DefaultDoc != "":
			def = s.DefaultDoc
		case s.Default != "":
			def = code(s.Default)
		}
		cells := []string{code(s.Key), code(s.Variable), def, s.Form.Rule, s.Meaning}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return strings.ReplaceAll(b.String(), "|  |", "| |")
}

// RequiredKeys are the context keys without which the CDK app fails, in Table's order.
func RequiredKeys() []string {
	var keys []string
	for _, s := range Table {
		if s.Required {
			keys = append(keys, s.Key)
		}
	}
	return keys
}
