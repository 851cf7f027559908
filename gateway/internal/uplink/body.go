package uplink

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/community-edge/edge/cloud/api"
)

// A webhook body template is the JSON a grid system expects, with the alert's fields put in by
// placeholders:
//
//	{{json .Resident.Name}}   the field as a JSON value (a string quoted, null when absent)
//	{{.Address}}              the field as text, escaped to sit inside a JSON string
//	{{json .}}                the whole alert as JSON
//
// A path names the fields of api.Alert as Go names them (.AlarmID, .GridCode,
// .Location.Building). Every path is checked when the template is read, so a misspelt field is
// an error at start, not when the first alarm is sent. The gateway does not use Go's
// text/template here: its method calls by name make the linker keep every exported method of
// every type in the binary, 4 MB of code the box would otherwise map.
type bodyTemplate struct {
	parts []bodyPart
}

// bodyPart is literal text, or (path set) a field to put in.
type bodyPart struct {
	text  string
	path  string // as written, e.g. .Resident.Name; "." is the whole alert
	field []int  // reflect field indexes from api.Alert; nil for the whole alert
	json  bool   // as a JSON value, else as text inside a JSON string
}

var alertType = reflect.TypeFor[api.Alert]()

// parseBody reads a template; its errors name the placeholder and its position.
func parseBody(src string) (*bodyTemplate, error) {
	t := &bodyTemplate{}
	rest, pos := src, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf("at %d: }} without {{", pos+strings.Index(rest, "}}"))
			}
			t.addText(rest)
			return t, nil
		}
		if j := strings.Index(rest[:i], "}}"); j >= 0 {
			return nil, fmt.Errorf("at %d: }} without {{", pos+j)
		}
		t.addText(rest[:i])
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("at %d: {{ without }}", pos+i)
		}
		action := rest[i+2 : i+2+end]
		p, err := parsePlaceholder(action)
		if err != nil {
			return nil, fmt.Errorf("at %d: {{%s}}: %w", pos+i, action, err)
		}
		t.parts = append(t.parts, p)
		pos += i + 2 + end + 2
		rest = rest[i+2+end+2:]
	}
}

func (t *bodyTemplate) addText(s string) {
	if s != "" {
		t.parts = append(t.parts, bodyPart{text: s})
	}
}

func parsePlaceholder(action string) (bodyPart, error) {
	words := strings.Fields(action)
	var p bodyPart
	switch {
	case len(words) == 2 && words[0] == "json":
		p.json, p.path = true, words[1]
	case len(words) == 1:
		p.path = words[0]
	default:
		return p, fmt.Errorf("a placeholder is {{.Field}} or {{json .Field}}")
	}
	if !strings.HasPrefix(p.path, ".") {
		return p, fmt.Errorf("a field path starts with a dot, e.g. .Address")
	}
	if p.path == "." {
		if !p.json {
			return p, fmt.Errorf("the whole alert goes in as {{json .}}")
		}
		return p, nil
	}
	typ := alertType
	for name := range strings.SplitSeq(p.path[1:], ".") {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct {
			return p, fmt.Errorf("%s has no fields", p.path)
		}
		f, ok := typ.FieldByName(name)
		if !ok || !f.IsExported() || len(f.Index) != 1 {
			return p, fmt.Errorf("the alert has no field %q here (fields: %s)", name, fieldNames(typ))
		}
		p.field = append(p.field, f.Index[0])
		typ = f.Type
	}
	return p, nil
}

func fieldNames(typ reflect.Type) string {
	var names []string
	for f := range typ.Fields() {
		if f.IsExported() {
			names = append(names, f.Name)
		}
	}
	return strings.Join(names, ", ")
}

// execute writes the body for one alert.
func (t *bodyTemplate) execute(buf *bytes.Buffer, a *api.Alert) error {
	alert := reflect.ValueOf(a).Elem()
	for _, p := range t.parts {
		if p.path == "" {
			buf.WriteString(p.text)
			continue
		}
		v, present := fieldValue(alert, p.field)
		switch {
		case p.json && !present:
			buf.WriteString("null")
		case p.json:
			b, err := json.Marshal(v.Interface())
			if err != nil {
				return fmt.Errorf("%s: %w", p.path, err)
			}
			buf.Write(b)
		case present:
			s, err := asText(v)
			if err != nil {
				return fmt.Errorf("%s: %w", p.path, err)
			}
			q, _ := json.Marshal(s) // a string always encodes
			buf.Write(q[1 : len(q)-1])
		}
	}
	return nil
}

// fieldValue follows the field indexes; a nil pointer on the way means the field is absent.
func fieldValue(v reflect.Value, index []int) (reflect.Value, bool) {
	for _, i := range index {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return v, false
	}
	return v, true
}

// asText is a field as a person would write it: times as RFC 3339, others as fmt prints them.
func asText(v reflect.Value) (string, error) {
	if m, ok := v.Interface().(encoding.TextMarshaler); ok {
		b, err := m.MarshalText()
		return string(b), err
	}
	return fmt.Sprint(v.Interface()), nil
}
