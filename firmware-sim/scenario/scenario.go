// Package scenario reads the YAML scenarios the simulator plays: which devices exist, in
// which dialect, and what happens to them when (an SOS at 10 s, a charger overheating, a
// device falling silent). Files are decoded strictly and every mistake is reported at once,
// naming its key and line.
package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/family"
	"github.com/community-edge/edge/firmware-sim/payload"
	"gopkg.in/yaml.v3"
)

// Scenario is one scenario file.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Heartbeat is the telemetry interval of every device (default: the simulator's).
	Heartbeat Duration `yaml:"heartbeat"`
	// AutoEvents lets devices act on their own besides the steps (parcels, sessions).
	AutoEvents bool `yaml:"auto_events"`
	// Loop, if set, replays the steps with this period until the simulator stops.
	Loop Duration `yaml:"loop"`
	// Dialect of devices that do not name theirs: native (default) or alink.
	Dialect string `yaml:"dialect"`
	// Fleet gives device counts per family; devices are named cb-0001, lk-0001, ch-0001….
	Fleet Counts `yaml:"fleet"`
	// Devices lists devices by name, adding to the fleet or overriding a counted device.
	Devices []Device `yaml:"devices"`
	Steps   []Step   `yaml:"steps"`
}

// Counts is a number of devices per family.
type Counts struct {
	CallButton int `yaml:"callbutton"`
	Locker     int `yaml:"locker"`
	Charger    int `yaml:"charger"`
}

// Of returns the count of a family.
func (c Counts) Of(f drivers.Family) int {
	switch f {
	case drivers.CallButton:
		return c.CallButton
	case drivers.Locker:
		return c.Locker
	case drivers.Charger:
		return c.Charger
	}
	return 0
}

// Device is one simulated device.
type Device struct {
	ID         string         `yaml:"id"`
	Family     drivers.Family `yaml:"family"`
	Dialect    string         `yaml:"dialect"`
	ProductKey string         `yaml:"product_key"` // alink only; default: the family's product
	FW         string         `yaml:"fw"`
}

// Step actions.
const (
	GoSilent       = "go_silent"       // stop telemetry, events and acks; stay connected
	Resume         = "resume"          // end go_silent
	DisconnectHard = "disconnect_hard" // close the socket without DISCONNECT: the will fires
	Disconnect     = "disconnect"      // publish offline and DISCONNECT cleanly
	Reconnect      = "reconnect"       // connect again after a disconnect (and resume)
)

// Actions lists the step actions.
func Actions() []string { return []string{GoSilent, Resume, DisconnectHard, Disconnect, Reconnect} }

// Step is something that happens to a device at a time after the start (of each loop).
// Exactly one of Event, Action and SetMetric is set.
type Step struct {
	At        Duration       `yaml:"at"`
	Device    string         `yaml:"device"`
	Event     string         `yaml:"event"`
	Data      map[string]any `yaml:"data"`
	Action    string         `yaml:"action"`
	SetMetric *SetMetric     `yaml:"set_metric"`

	// EventData is Data decoded into the canonical event data by Validate.
	EventData drivers.EventData `yaml:"-"`
}

// SetMetric pins a metric: it moves from its current value to Value over Over, then stays
// until released (Release without Value).
type SetMetric struct {
	Name    string   `yaml:"name"`
	Value   *float64 `yaml:"value"`
	Port    *int     `yaml:"port"`
	Over    Duration `yaml:"over"`
	Release bool     `yaml:"release"`
}

// Duration is a time.Duration written like "10s" or "1m30s".
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML implements yaml.Unmarshaler; a bad value is reported with the others.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (like 10s or 1m30s)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Prefix returns the id prefix of a family's counted devices.
func Prefix(f drivers.Family) string {
	switch f {
	case drivers.CallButton:
		return "cb"
	case drivers.Locker:
		return "lk"
	case drivers.Charger:
		return "ch"
	}
	return string(f)
}

// DeviceID names the n-th (from 1) counted device of a family.
func DeviceID(f drivers.Family, n int) string { return fmt.Sprintf("%s-%04d", Prefix(f), n) }

// Load reads and validates a scenario file.
func Load(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes a scenario strictly and validates it, reporting every mistake at once.
func Parse(b []byte) (*Scenario, error) {
	var s Scenario
	var errs []error
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		for _, e := range te.Errors {
			errs = append(errs, errors.New(e))
		}
	}
	lines := stepLines(b)
	errs = append(errs, s.validate(lines, unknownFieldSteps(errs, lines))...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("scenario: %d mistake(s):\n%w", len(errs), errors.Join(errs...))
	}
	return &s, nil
}

// stepLines returns the line of each step, for error messages.
func stepLines(b []byte) []int {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return nil
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "steps" {
			var out []int
			for _, n := range m.Content[i+1].Content {
				out = append(out, n.Line)
			}
			return out
		}
	}
	return nil
}

// unknownFieldSteps returns the steps with an unknown key: their missing event, action or
// set_metric is a consequence of that mistake, not another one.
func unknownFieldSteps(errs []error, lines []int) map[int]bool {
	out := map[int]bool{}
	for _, e := range errs {
		var line int
		var field string
		if _, err := fmt.Sscanf(e.Error(), "line %d: field %s not found", &line, &field); err != nil {
			continue
		}
		for i := len(lines) - 1; i >= 0; i-- {
			if lines[i] <= line {
				out[i] = true
				break
			}
		}
	}
	return out
}

// Validate checks the scenario without I/O.
func (s *Scenario) Validate() error {
	return errors.Join(s.validate(nil, nil)...)
}

func (s *Scenario) validate(lines []int, misspelt map[int]bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Dialect != "" && !slices.Contains(payload.Dialects(), s.Dialect) {
		bad("dialect: %q is not native or alink", s.Dialect)
	}
	if s.Heartbeat < 0 {
		bad("heartbeat: must not be negative")
	}
	if s.Loop < 0 {
		bad("loop: must not be negative")
	}
	for _, f := range drivers.Families() {
		if s.Fleet.Of(f) < 0 || s.Fleet.Of(f) > 9999 {
			bad("fleet.%s: %d is not in 0..9999", f, s.Fleet.Of(f))
		}
	}
	seen := map[string]bool{}
	for i, d := range s.Devices {
		key := fmt.Sprintf("devices[%d]", i)
		switch {
		case d.ID == "":
			bad("%s.id: missing", key)
		case strings.ContainsAny(d.ID, "/+#"):
			bad("%s.id: %q must not contain / + or #", key, d.ID)
		case seen[d.ID]:
			bad("%s.id: %q listed twice", key, d.ID)
		}
		seen[d.ID] = true
		if !d.Family.Valid() {
			bad("%s.family: %q is not callbutton, locker or charger", key, d.Family)
		}
		if d.Dialect != "" && !slices.Contains(payload.Dialects(), d.Dialect) {
			bad("%s.dialect: %q is not native or alink", key, d.Dialect)
		}
	}
	fams := map[string]drivers.Family{}
	for _, d := range s.Expand(nil) {
		fams[d.ID] = d.Family
	}
	for i := range s.Steps {
		key := fmt.Sprintf("steps[%d]", i)
		if i < len(lines) {
			key = fmt.Sprintf("steps[%d] (line %d)", i, lines[i])
		}
		errs = append(errs, s.Steps[i].validate(key, fams, s.Loop.D(), misspelt[i])...)
	}
	return errs
}

func (st *Step) validate(key string, fams map[string]drivers.Family, loop time.Duration, misspelt bool) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(key+"."+format, args...)) }
	if st.At < 0 {
		bad("at: must not be negative")
	}
	if loop > 0 && st.At.D() >= loop {
		bad("at: %s is not before the loop period %s", st.At.D(), loop)
	}
	f, known := fams[st.Device]
	if st.Device == "" {
		bad("device: missing")
	} else if !known {
		bad("device: %q is not in the fleet or devices", st.Device)
	}
	kinds := 0
	for _, set := range []bool{st.Event != "", st.Action != "", st.SetMetric != nil} {
		if set {
			kinds++
		}
	}
	if kinds > 1 || kinds == 0 && !misspelt {
		bad("event/action/set_metric: a step needs exactly one, has %d", kinds)
	}
	if st.Data != nil && st.Event == "" {
		bad("data: only an event step has data")
	}
	if st.Action != "" && !slices.Contains(Actions(), st.Action) {
		bad("action: %q is not one of %v", st.Action, Actions())
	}
	if st.Event != "" {
		d, err := eventData(st.Data)
		if err != nil {
			bad("data: %v", err)
		}
		st.EventData = d
		if known && err == nil {
			if err := family.CheckEvent(f, family.Event{Type: st.Event, Data: d}); err != nil {
				bad("event: %v", err)
			}
		}
	}
	if sm := st.SetMetric; sm != nil {
		if (sm.Value == nil) != sm.Release {
			bad("set_metric.value: give a value or release: true, not both")
		}
		if sm.Over < 0 {
			bad("set_metric.over: must not be negative")
		}
		spec := family.SpecOf(f)
		switch {
		case !known:
		case !slices.Contains(spec.Metrics, sm.Name):
			bad("set_metric.name: %q is not a %s metric (want one of %v)", sm.Name, f, spec.Metrics)
		case spec.PortMetric && (sm.Port == nil || *sm.Port < 1 || *sm.Port > family.Ports):
			bad("set_metric.port: a %s metric needs a port in 1..%d", f, family.Ports)
		case !spec.PortMetric && sm.Port != nil:
			bad("set_metric.port: %s metrics have no port", f)
		}
	}
	return errs
}

// eventData decodes a step's data strictly into the canonical event data.
func eventData(m map[string]any) (drivers.EventData, error) {
	var d drivers.EventData
	if m == nil {
		return d, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return d, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return d, nil
}

// Expand returns every device of the scenario: the counted ones (counts overrides the file's
// fleet if not nil) in family order, then the listed ones that are not counted. A listed device
// with a counted id overrides that device's settings.
func (s *Scenario) Expand(counts *Counts) []Device {
	c := s.Fleet
	if counts != nil {
		c = *counts
	}
	listed := map[string]Device{}
	for _, d := range s.Devices {
		listed[d.ID] = d
	}
	var out []Device
	used := map[string]bool{}
	for _, f := range drivers.Families() {
		for n := 1; n <= c.Of(f); n++ {
			d := Device{ID: DeviceID(f, n), Family: f}
			if l, ok := listed[d.ID]; ok && l.Family == f {
				d = l
			}
			used[d.ID] = true
			out = append(out, d)
		}
	}
	for _, d := range s.Devices {
		if !used[d.ID] {
			out = append(out, d)
		}
	}
	for i := range out {
		if out[i].Dialect == "" {
			out[i].Dialect = s.Dialect
		}
		if out[i].Dialect == "" {
			out[i].Dialect = "native"
		}
	}
	return out
}

// Sorted returns the steps in time order (stable for equal times).
func (s *Scenario) Sorted() []Step {
	out := slices.Clone(s.Steps)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At < out[j].At })
	return out
}
