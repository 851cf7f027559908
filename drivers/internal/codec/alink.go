package codec

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/internal/jsonscan"
)

// Alink method names are thing.event.{identifier}.post.
const (
	methodPrefix = "thing.event."
	methodSuffix = ".post"
)

// DecodeAlink decodes an Alink JSON post on thing topic t from a device of product m: a
// property post becomes Telemetry, an event post an Event. A post without a time has TS 0.
func (d *Driver) DecodeAlink(t drivers.Topic, m *drivers.AlinkModel, payload []byte) (drivers.Message, error) {
	what := where{kind: "alink event", ident: t.Identifier}
	if t.Identifier == "property" {
		what = where{kind: "alink property post"}
	}
	switch {
	case m == nil:
		return drivers.Message{}, d.reject(drivers.ReasonUnknownModel, what, "no product model")
	case m.Family != d.spec.Family:
		return drivers.Message{}, d.reject(drivers.ReasonWrongFamily, what, "product %q is a %s model", m.ProductKey, m.Family)
	case len(payload) > drivers.MaxPayload:
		return drivers.Message{}, d.reject(drivers.ReasonOversize, what, "payload of %d bytes is larger than %d", len(payload), drivers.MaxPayload)
	}
	var (
		s   jsonscan.Scanner
		msg drivers.Message
		err error
	)
	s.Reset(payload)
	if t.Identifier == "property" {
		msg.Kind = drivers.KindTelemetry
		msg.Telemetry, err = d.alinkProperties(&s, t.Identifier, m, what)
	} else {
		msg.Kind = drivers.KindEvent
		msg.Event, err = d.alinkEvent(&s, t.Identifier, m)
	}
	if err != nil {
		return drivers.Message{}, d.syntaxFirst(payload, what, err)
	}
	return msg, nil
}

// checkMethod checks an Alink method against the topic's identifier.
func (d *Driver) checkMethod(s *jsonscan.Scanner, what where, ident string) error {
	b, err := d.str(s, what, "method")
	if err != nil {
		return err
	}
	rest, ok := strings.CutPrefix(string(b), methodPrefix) // string(b) here does not allocate
	if !ok || len(rest) != len(ident)+len(methodSuffix) || rest[:len(ident)] != ident || rest[len(ident):] != methodSuffix {
		return d.reject(drivers.ReasonBadTopic, what, "method %q does not match the topic's %s%s%s", b, methodPrefix, ident, methodSuffix)
	}
	return nil
}

// alinkProperties decodes {"id","version","params":{"Prop":v or {"value":v,"time":ms}},"method"}.
func (d *Driver) alinkProperties(s *jsonscan.Scanner, ident string, m *drivers.AlinkModel, what where) (*drivers.Telemetry, error) {
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	t := &drivers.Telemetry{}
	haveParams := false
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			_, err = d.id(s, what, "id")
		case "method":
			err = d.checkMethod(s, what, ident)
		case "params":
			if s.Peek() != jsonscan.Object {
				err = d.wrongType(s, what, "params", "an object")
				break
			}
			haveParams = true
			*t = drivers.Telemetry{Metrics: t.Metrics[:0]} // the last "params" counts
			err = d.alinkParams(s, m, what, t)
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	if !haveParams {
		return nil, d.missing(what, "params")
	}
	if t.Port == nil && m.Port != nil {
		p := *m.Port
		t.Port = &p
	}
	return t, d.checkPort(t, what)
}

func (d *Driver) alinkParams(s *jsonscan.Scanner, m *drivers.AlinkModel, what where, t *drivers.Telemetry) error {
	o, _ := s.Object()
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		isPort := m.PortProperty != "" && string(key) == m.PortProperty
		prop, known := m.Properties[string(key)]
		name := ""
		if known {
			name, known = d.metrics[prop.Metric]
		}
		if !known && !isPort {
			t.Unknown = appendUnique(t.Unknown, string(key))
			s.Skip()
			continue
		}
		num, tm, err := d.alinkValue(s, what, key)
		if err != nil {
			return err
		}
		if tm > t.TS {
			t.TS = tm
		}
		if num == nil { // null: absent; a repeated property replaces an earlier one
			if isPort {
				t.Port = nil
			} else {
				removeMetric(t, name)
			}
			continue
		}
		if isPort {
			p, err := d.portNum(num, what, m.PortProperty)
			if err != nil {
				return err
			}
			t.Port = &p
			continue
		}
		v, err := jsonscan.ParseFloat(num)
		if err != nil {
			return d.reject(drivers.ReasonOutOfRange, what, "params.%s: %s is out of range", key, num)
		}
		if prop.Scale != 0 {
			v *= prop.Scale
		}
		d.addMetric(t, name, v)
	}
	if s.Err() != nil {
		return d.malformed(s, what)
	}
	return nil
}

// alinkValue reads a property value: a number, or {"value":number,"time":ms}. A null value
// returns nil text.
func (d *Driver) alinkValue(s *jsonscan.Scanner, what where, key []byte) ([]byte, int64, error) {
	switch s.Peek() {
	case jsonscan.Number:
		b, _ := s.Num()
		return b, 0, nil
	case jsonscan.Null:
		s.Null()
		return nil, 0, nil
	case jsonscan.Object:
	default:
		return nil, 0, d.wrongType(s, what, "params."+string(key), "a number or {\"value\",\"time\"}")
	}
	var kb [64]byte
	pk := kb[:copy(kb[:], key)] // the key buffer is reused by the inner object
	o, _ := s.Object()
	var (
		num       []byte
		tm        int64
		haveValue bool
		err       error
	)
	for {
		k, ok := o.Next()
		if !ok {
			break
		}
		switch string(k) {
		case "value":
			haveValue = true
			switch s.Peek() {
			case jsonscan.Number:
				num, _ = s.Num()
			case jsonscan.Null:
				num = nil
				s.Null()
			default:
				err = d.wrongType(s, what, "params."+string(pk)+".value", "a number")
			}
		case "time":
			if s.Peek() != jsonscan.Number {
				err = d.wrongType(s, what, "params."+string(pk)+".time", "an integer")
				break
			}
			b, _ := s.Num()
			var reason drivers.Reason
			var complaint string
			if tm, reason, complaint = parseTS(b); reason != "" {
				err = d.reject(reason, what, "params.%s.time: %s", string(pk), complaint)
			}
		default:
			s.Skip()
		}
		if err != nil {
			return nil, 0, err
		}
	}
	if s.Err() != nil {
		return nil, 0, d.malformed(s, what)
	}
	if !haveValue {
		return nil, 0, d.missing(what, "params."+string(pk)+".value")
	}
	return num, tm, nil
}

// alinkEvent decodes {"id","version","params":{"value":{…},"time":ms},"method"}.
func (d *Driver) alinkEvent(s *jsonscan.Scanner, ident string, m *drivers.AlinkModel) (*drivers.Event, error) {
	what := where{kind: "alink event", ident: ident}
	ae, ok := m.Events[ident]
	if !ok {
		return nil, d.reject(drivers.ReasonUnknownType, what, "product %q has no event %q", m.ProductKey, ident)
	}
	et := d.events[ae.Type]
	if et == nil {
		return nil, d.reject(drivers.ReasonUnknownType, what, "product %q maps it to %q, not a %s event type", m.ProductKey, ae.Type, d.spec.Family)
	}
	o, err := d.open(s, what)
	if err != nil {
		return nil, err
	}
	w := where{kind: "alink event", ident: ident, typ: et.Name}
	what = w
	box := &eventBox{}
	ev := &box.Event
	ev.Type = et.Name
	var seen uint64
	haveParams := false
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			ev.ID, err = d.id(s, what, "id")
		case "method":
			err = d.checkMethod(s, what, ident)
		case "params":
			if s.Peek() != jsonscan.Object {
				err = d.wrongType(s, what, "params", "an object")
				break
			}
			haveParams = true
			ev.TS, ev.Data, seen = 0, drivers.EventData{}, 0 // the last "params" counts
			seen, ev.TS, err = d.alinkEventParams(s, et, &ae, w, box)
		default:
			s.Skip()
		}
		if err != nil {
			return nil, err
		}
	}
	if err := d.end(s, what); err != nil {
		return nil, err
	}
	switch {
	case ev.ID == "":
		return nil, d.missing(what, "id")
	case !haveParams:
		return nil, d.missing(what, "params")
	}
	if err := d.finishData(et, &ae, m, w, seen, box); err != nil {
		return nil, err
	}
	return ev, nil
}

func (d *Driver) alinkEventParams(s *jsonscan.Scanner, et *EventType, ae *drivers.AlinkEvent, w where, out *eventBox) (uint64, int64, error) {
	what := w
	o, _ := s.Object()
	var (
		seen uint64
		ts   int64
		err  error
	)
	for {
		key, ok := o.Next()
		if !ok {
			break
		}
		switch string(key) {
		case "value":
			switch s.Peek() {
			case jsonscan.Object:
				out.Data, seen = drivers.EventData{}, 0 // the last "value" counts
				seen, err = d.data(s, et, ae, w, out)
			case jsonscan.Null:
				out.Data, seen = drivers.EventData{}, 0
				s.Null()
			default:
				err = d.wrongType(s, what, "params.value", "an object")
			}
		case "time":
			ts, err = d.ts(s, what, "params.time")
		default:
			s.Skip()
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if s.Err() != nil {
		return 0, 0, d.malformed(s, what)
	}
	return seen, ts, nil
}

// CheckModel checks an Alink model's mapping onto this family: every property maps to one of
// its metrics, every event to one of its event types, every parameter, vendor value and
// default to a data field of that type with a value the field accepts. It reports every
// problem, each naming the file and the key.
func (d *Driver) CheckModel(m *drivers.AlinkModel) error {
	var errs []error
	file := m.File
	if file == "" {
		file = fmt.Sprintf("alink model %q", m.ProductKey)
	}
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s: %s: %s", d.spec.Family, file, key, fmt.Sprintf(format, args...)))
	}
	if m.Family != d.spec.Family {
		bad("family", "%q is not %s", m.Family, d.spec.Family)
	}
	for _, id := range sorted(m.Properties) {
		p := m.Properties[id]
		if _, ok := d.metrics[p.Metric]; !ok {
			bad("properties."+id+".metric", "%q is not a %s metric (one of %s)", p.Metric, d.spec.Family, strings.Join(d.spec.Metrics, ", "))
		}
		if math.IsNaN(p.Scale) || math.IsInf(p.Scale, 0) {
			bad("properties."+id+".scale", "%v is not a finite number", p.Scale)
		}
	}
	if !d.spec.PerPort {
		if m.PortProperty != "" {
			bad("port_property", "%s reports are not per port", d.spec.Family)
		}
		if m.Port != nil {
			bad("port", "%s devices have no ports", d.spec.Family)
		}
	}
	if m.Port != nil && (*m.Port < 0 || *m.Port > MaxPort) {
		bad("port", "%d is outside [0, %d]", *m.Port, MaxPort)
	}
	for _, id := range sorted(m.Events) {
		e := m.Events[id]
		et := d.events[e.Type]
		if et == nil {
			bad("events."+id+".type", "%q is not a %s event type (one of %s)", e.Type, d.spec.Family, strings.Join(d.types, ", "))
			continue
		}
		for _, p := range sorted(e.Fields) {
			if et.fieldStr(e.Fields[p]) < 0 {
				bad("events."+id+".fields."+p, "%q is not a data field of %s (%s)", e.Fields[p], et.Name, fieldNames(et))
			}
		}
		for _, fname := range sorted(e.Values) {
			i := et.fieldStr(fname)
			if i < 0 {
				bad("events."+id+".values."+fname, "not a data field of %s (%s)", et.Name, fieldNames(et))
				continue
			}
			if !slices.Contains(mapValues(e.Fields), fname) {
				bad("events."+id+".values."+fname, "no parameter maps to %s", fname)
			}
			f := &et.Fields[i]
			for _, raw := range sorted(e.Values[fname]) {
				if _, reason, complaint := f.parse(mappedToken(f, e.Values[fname][raw])); reason != "" {
					bad("events."+id+".values."+fname+"."+raw, "%s", complaint)
				}
			}
		}
		for _, fname := range sorted(e.Defaults) {
			i := et.fieldStr(fname)
			if i < 0 {
				bad("events."+id+".defaults."+fname, "not a data field of %s (%s)", et.Name, fieldNames(et))
				continue
			}
			f := &et.Fields[i]
			if _, reason, complaint := f.parse(mappedToken(f, e.Defaults[fname])); reason != "" {
				bad("events."+id+".defaults."+fname, "%s", complaint)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("drivers: alink model: %w", errors.Join(errs...))
	}
	return nil
}

func fieldNames(et *EventType) string {
	if len(et.Fields) == 0 {
		return "it has none"
	}
	names := make([]string, len(et.Fields))
	for i, f := range et.Fields {
		names[i] = f.Name
	}
	return "one of " + strings.Join(names, ", ")
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
