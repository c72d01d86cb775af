package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// LoadDeployment reads and validates every context key of Table through get, which
// returns nil for a key that is not set: a value from `-c key=value` is a string, one from
// cdk.json may be a JSON number, boolean or array. An unset key takes its default; it
// reports every invalid key at once, each error naming its key.
func LoadDeployment(get func(key string) any) (Deployment, error) {
	var d Deployment
	r := contextReader{bad: map[string]bool{}}
	for _, s := range Table {
		if s.Key == "" {
			continue
		}
		v := get(s.Key)
		if s.DefaultKey != "" && v == "" {
			v = nil
		}
		switch {
		case v != nil:
		case s.Default != "":
			v = s.Default
		case s.DefaultKey != "":
			continue // below, once the other key is read
		case !s.Required:
			continue // none
		case s.Form.requiredHint != "":
			r.fail(s.Key, "is required: %s", s.Form.requiredHint)
			continue
		default:
			r.fail(s.Key, "is required")
			continue
		}
		items, ok := r.items(s, v)
		if !ok {
			continue
		}
		parsed, err := s.Form.parse(items)
		if err != nil {
			r.fail(s.Key, "%v", err)
			continue
		}
		s.set(&d, parsed)
	}
	for _, s := range Table {
		if s.DefaultKey == "" || s.text(&d) != "" {
			continue
		}
		from, _ := Lookup(s.DefaultKey)
		s.set(&d, from.value(&d))
	}
	for _, s := range Table {
		if with, ok := Lookup(s.RequiredWith); s.RequiredWith != "" && ok && r.ok(s.Key) && s.text(&d) == "" && with.text(&d) != "" {
			r.fail(s.Key, "is required with %s", with.Key)
		}
	}
	// The policy's rules between its settings (limitDays > noticePeriod), once each is valid.
	if r.ok("limitDays") && r.ok("noticePeriod") {
		if err := d.Policy.Validate(); err != nil {
			r.errs = append(r.errs, policyFieldErrors(err, func(s Setting, problem string) {
				if r.ok(s.Key) {
					r.fail(s.Key, "%s", problem)
				}
			})...)
		}
	}
	return d, errors.Join(r.errs...)
}

// contextReader collects one error per bad context key.
type contextReader struct {
	errs []error
	bad  map[string]bool
}

func (r *contextReader) fail(key, format string, args ...any) {
	r.bad[key] = true
	r.errs = append(r.errs, fmt.Errorf("context %s: "+format, append([]any{key}, args...)...))
}

func (r *contextReader) ok(key string) bool { return !r.bad[key] }

// items turns a context value into the items the setting's form parses: a list from a
// comma-separated string or a JSON array, any other value as its text.
func (r *contextReader) items(s Setting, v any) ([]string, bool) {
	if !s.Form.list {
		text, ok := r.text(s.Key, v)
		return []string{text}, ok
	}
	switch v := v.(type) {
	case []any:
		var items []string
		for _, item := range v {
			text, isString := item.(string)
			if !isString {
				r.fail(s.Key, "must list strings, got %v (%T)", item, item)
				return nil, false
			}
			items = append(items, strings.TrimSpace(text))
		}
		return items, true
	case []string:
		return v, true
	case string:
		return s.Form.items(v), true
	}
	r.fail(s.Key, "must be a comma-separated string or a list, got %T", v)
	return nil, false
}

// text is a context value as text: CDK context from -c is always a string, from cdk.json
// it may be a JSON number or boolean.
func (r *contextReader) text(key string, v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case bool:
		return strconv.FormatBool(v), true
	}
	r.fail(key, "must be a string, got %T", v)
	return "", false
}
