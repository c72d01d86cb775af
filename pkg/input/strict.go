package input

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// errNotJSON stops the strict walk at a syntax error: encoding/json describes those.
var errNotJSON = errors.New("not valid JSON")

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	rawMessage      = reflect.TypeFor[json.RawMessage]()
)

// checkStrict walks the JSON value in raw alongside the Go type t and reports what
// encoding/json lets through but a document must not say:
//   - a key that is not exactly a field's name (encoding/json matches keys case-insensitively,
//     so {"dryRun":true,"DRYRUN":false} would decode as false);
//   - a key that appears twice in one object (the last would win);
//   - null anywhere but in a json.RawMessage or an interface value (encoding/json leaves the
//     zero value, so {"dryRun":null} would read as an absent field).
//
// Type mismatches and syntax errors are left to encoding/json, which names them.
func checkStrict(raw []byte, t reflect.Type) error {
	w := walker{dec: json.NewDecoder(bytes.NewReader(raw))}
	w.dec.UseNumber()
	err := w.value(t, "")
	if errors.Is(err, errNotJSON) {
		return nil
	}
	return err
}

type walker struct{ dec *json.Decoder }

func (w *walker) token() (json.Token, error) {
	tok, err := w.dec.Token()
	if err != nil {
		return nil, errNotJSON
	}
	return tok, nil
}

// value checks the next value of the stream, to be decoded into t, at path.
func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.token()
	if err != nil {
		return err
	}
	if tok == nil {
		if nullable(t) {
			return nil
		}
		return Errorf(fieldName(path), "must not be null: omit the field, or give it a value")
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	delim, isDelim := tok.(json.Delim)
	if !isDelim {
		return nil
	}
	if ownFormat(t) || t.Kind() == reflect.Interface {
		return w.skipRest()
	}
	switch {
	case delim == '{' && t.Kind() == reflect.Struct:
		return w.object(path, func(key string) (reflect.Type, error) {
			fields := jsonFields(t)
			if f, ok := fields[key]; ok {
				return f, nil
			}
			for name := range fields {
				if strings.EqualFold(name, key) {
					return nil, Errorf(join(path, key), "unknown field; field names are case-sensitive: did you mean %q?", name)
				}
			}
			return nil, Errorf(join(path, key), "unknown field")
		})
	case delim == '{' && t.Kind() == reflect.Map:
		return w.object(path, func(string) (reflect.Type, error) { return t.Elem(), nil })
	case delim == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		_, err := w.token() // ]
		return err
	}
	return w.skipRest() // a type mismatch: encoding/json reports it
}

// object checks the members of an object whose '{' was read; member gives the type of a
// key's value, or the error for a key that has none.
func (w *walker) object(path string, member func(key string) (reflect.Type, error)) error {
	seen := map[string]bool{}
	for w.dec.More() {
		tok, err := w.token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		if seen[key] {
			return Errorf(join(path, key), "appears twice in one object")
		}
		seen[key] = true
		t, err := member(key)
		if err != nil {
			return err
		}
		if err := w.value(t, join(path, key)); err != nil {
			return err
		}
	}
	_, err := w.token() // }
	return err
}

// skipRest consumes the rest of an object or array whose opening delimiter was read.
func (w *walker) skipRest() error {
	for depth := 1; depth > 0; {
		tok, err := w.token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// nullable: the types whose consumer sees a null as such.
func nullable(t reflect.Type) bool {
	return t == rawMessage || t.Kind() == reflect.Interface
}

// ownFormat: a type that decodes itself; its inside is its own business.
func ownFormat(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || p.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || p.Implements(textUnmarshaler)
}

// jsonFields maps the JSON names of struct t's fields, as encoding/json names them, to their
// types: the json tag's name or the Go name, "-" left out, untagged embedded structs' fields
// promoted unless a shallower field has the name.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	level := []reflect.Type{t}
	for depth := 0; len(level) > 0 && depth < 16; depth++ {
		names := map[string]reflect.Type{}
		var next []reflect.Type
		for _, st := range level {
			for i := range st.NumField() {
				f := st.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				ft := f.Type
				if f.Anonymous && name == "" {
					for ft.Kind() == reflect.Pointer {
						ft = ft.Elem()
					}
					if ft.Kind() == reflect.Struct {
						next = append(next, ft)
						continue
					}
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if _, shadowed := out[name]; !shadowed {
					names[name] = f.Type
				}
			}
		}
		for name, ft := range names {
			out[name] = ft
		}
		level = next
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func fieldName(path string) string {
	if path == "" {
		return "(document)"
	}
	return path
}

// decodeTarget is the type Decode fills: v's pointed-to type.
func decodeTarget(v any) (reflect.Type, error) {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("input.Decode: want a non-nil pointer, got %T", v)
	}
	return t.Elem(), nil
}
