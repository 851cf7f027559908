// Package codec is the decoder shared by the device family drivers. A family describes itself
// with a Spec — its event types with their data fields, its metric names — and codec turns
// the Spec into a drivers.Driver that decodes both dialects (native JSON and Alink JSON) with a
// hand-rolled scanner, validates what it decodes and checks Alink product models.
package codec

import (
	"fmt"
	"math"
	"slices"

	"github.com/community-edge/edge/drivers"
)

// FieldKind is how a data field's value is read.
type FieldKind uint8

// Field kinds.
const (
	// Text is a string of at most drivers.MaxTextLen bytes; an integer is taken as its decimal
	// text (lockers and chargers number compartments and sessions). "" counts as absent.
	Text FieldKind = iota + 1
	// Enum is a string from Field.Values.
	Enum
	// Number is any JSON number within [Min, Max].
	Number
	// Int is an integer within [Min, Max].
	Int
)

// Field is one data field of an event type.
type Field struct {
	Name     string // the canonical field, its json name in drivers.EventData
	Kind     FieldKind
	Required bool // absent (and no default) → ReasonMissingField
	// Lenient fields never reject their event: an invalid value is dropped as if absent. For
	// life-safety events whose data is a detail, not the alarm.
	Lenient  bool
	Min, Max float64  // Number, Int: inclusive bounds; Min == Max == 0 means unbounded
	Values   []string // Enum: the allowed values
	Fallback string   // Enum: the value when absent, or invalid if Lenient
}

// EventType is one event type of a family.
type EventType struct {
	Name   string
	Fields []Field
	// Check, if set, runs on the decoded data: it may normalise it or return a drivers.Reject
	// error.
	Check func(d *drivers.EventData) error
}

// Spec describes a family to the decoder.
type Spec struct {
	Family  drivers.Family
	Events  []EventType
	Metrics []string
	// PerPort says telemetry is per port (chargers): a report with metrics must carry a port.
	PerPort bool
}

// MaxPort is the highest port number accepted.
const MaxPort = 255

// Driver decodes one family's messages in both dialects. It is immutable and safe for
// concurrent use.
type Driver struct {
	spec    Spec
	events  map[string]*EventType
	metrics map[string]string // name → the Spec's string, so decoded names are not allocated
	types   []string
}

var _ interface {
	drivers.Driver
	drivers.ModelChecker
} = (*Driver)(nil)

// New makes a driver from a spec. A malformed spec is a programming error and panics.
func New(spec Spec) *Driver {
	if err := spec.check(); err != nil {
		panic(err)
	}
	d := &Driver{spec: spec, events: map[string]*EventType{}, metrics: map[string]string{}}
	for i := range spec.Events {
		et := &d.spec.Events[i]
		d.events[et.Name] = et
		d.types = append(d.types, et.Name)
	}
	for _, m := range spec.Metrics {
		d.metrics[m] = m
	}
	return d
}

func (s *Spec) check() error {
	if !s.Family.Valid() {
		return fmt.Errorf("codec: spec: unknown family %q", s.Family)
	}
	seen := map[string]bool{}
	for _, et := range s.Events {
		if et.Name == "" || seen[et.Name] {
			return fmt.Errorf("codec: spec %s: event type %q empty or repeated", s.Family, et.Name)
		}
		seen[et.Name] = true
		if len(et.Fields) > 64 {
			return fmt.Errorf("codec: spec %s: event %s: more than 64 fields", s.Family, et.Name)
		}
		names := map[string]bool{}
		for _, f := range et.Fields {
			if names[f.Name] {
				return fmt.Errorf("codec: spec %s: event %s: field %q repeated", s.Family, et.Name, f.Name)
			}
			names[f.Name] = true
			slot, ok := slotOf(f.Name)
			if !ok {
				return fmt.Errorf("codec: spec %s: event %s: %q is not a field of drivers.EventData", s.Family, et.Name, f.Name)
			}
			numeric := f.Kind == Number || f.Kind == Int
			if slot.numeric != numeric || (slot.integer && f.Kind != Int) {
				return fmt.Errorf("codec: spec %s: event %s: field %q has the wrong kind", s.Family, et.Name, f.Name)
			}
			if f.Kind == Enum && len(f.Values) == 0 {
				return fmt.Errorf("codec: spec %s: event %s: enum field %q has no values", s.Family, et.Name, f.Name)
			}
			if f.Fallback != "" && f.Kind != Enum {
				return fmt.Errorf("codec: spec %s: event %s: field %q: only enums have a fallback", s.Family, et.Name, f.Name)
			}
		}
	}
	mseen := map[string]bool{}
	for _, m := range s.Metrics {
		if m == "" || mseen[m] {
			return fmt.Errorf("codec: spec %s: metric %q empty or repeated", s.Family, m)
		}
		mseen[m] = true
	}
	return nil
}

// Family is the family this driver decodes.
func (d *Driver) Family() drivers.Family { return d.spec.Family }

// EventTypes lists the family's event types in the spec's order.
func (d *Driver) EventTypes() []string { return slices.Clone(d.types) }

// Metrics lists the family's metric names in the spec's order.
func (d *Driver) Metrics() []string { return slices.Clone(d.spec.Metrics) }

// field returns the index of the named field of et, or -1.
func (et *EventType) field(name []byte) int {
	for i := range et.Fields {
		if et.Fields[i].Name == string(name) {
			return i
		}
	}
	return -1
}

// fieldStr is field for a string name.
func (et *EventType) fieldStr(name string) int {
	for i := range et.Fields {
		if et.Fields[i].Name == name {
			return i
		}
	}
	return -1
}

func (f *Field) bounded() bool { return f.Min != 0 || f.Max != 0 }

// Unbounded is a convenient Max for fields bounded only below.
const Unbounded = math.MaxFloat64
