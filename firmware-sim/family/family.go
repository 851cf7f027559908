// Package family simulates what the firmware of each device family measures and does: a call
// button's draining battery and radio link, a parcel locker's compartments and climate, a
// charging post's ports, sessions and over-temperature protection. A Sim does no I/O and is
// deterministic for a seed: the caller passes the time in.
package family

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/community-edge/edge/drivers"
)

// Event is an event the firmware raises, before it is given an id and a timestamp.
type Event struct {
	Type string
	Data drivers.EventData
}

// Sim is the simulated firmware logic of one device. It is owned by one goroutine.
type Sim interface {
	// Family is the device's family.
	Family() drivers.Family
	// Advance moves the simulation to now and returns the events that happened since the
	// previous call. Call it about once a second.
	Advance(now time.Time) []Event
	// Telemetry returns the reports of a heartbeat: one, or one per port for a charger.
	Telemetry(now time.Time) []drivers.Telemetry
	// Apply updates the state after an event raised from outside, such as a scenario step.
	Apply(ev Event)
	// Command runs a family command; events it causes come out of the next Advance. It
	// returns an error for an unknown command or bad arguments.
	Command(now time.Time, cmd drivers.Command) error
	// Pin overrides a metric from now on: it moves linearly from its current value to value
	// over the given duration (at once if zero), then stays there. port is required for
	// per-port metrics and must be nil otherwise.
	Pin(now time.Time, port *int, metric string, value float64, over time.Duration) error
	// Release ends a pin: the metric follows the simulation again.
	Release(port *int, metric string) error
	// RandomEvent returns a plausible event of a random type of the family, for load tests.
	RandomEvent() Event
}

// Options tune a simulation.
type Options struct {
	// Seed makes the simulation reproducible.
	Seed uint64
	// AutoEvents lets the device act on its own: parcels deposited and collected, charging
	// sessions started and stopped. Threshold events (low battery, over-temperature) happen
	// whatever it says.
	AutoEvents bool
	// ActivityEvery is the mean time between autonomous activities; default 10 minutes.
	ActivityEvery time.Duration
}

// New returns the simulation of a family's device.
func New(f drivers.Family, opt Options) (Sim, error) {
	if opt.ActivityEvery <= 0 {
		opt.ActivityEvery = 10 * time.Minute
	}
	b := newBase(opt)
	switch f {
	case drivers.CallButton:
		return newCallButton(b), nil
	case drivers.Locker:
		return newLocker(b), nil
	case drivers.Charger:
		return newCharger(b), nil
	}
	return nil, fmt.Errorf("family: unknown family %q", f)
}

// Spec describes what a family's devices send and accept.
type Spec struct {
	EventTypes []string
	Metrics    []string
	PortMetric bool // metrics are per port
	Commands   []string
}

// SpecOf returns the spec of a family (zero for an unknown family).
func SpecOf(f drivers.Family) Spec {
	switch f {
	case drivers.CallButton:
		return Spec{
			EventTypes: []string{"sos", "fall", "inactivity", "cancel", "low_battery", "tamper"},
			Metrics:    []string{"battery_pct", "rssi_dbm"},
			Commands:   []string{"locate"},
		}
	case drivers.Locker:
		return Spec{
			EventTypes: []string{"door_opened", "door_closed", "parcel_deposited", "parcel_collected", "tamper", "power_lost", "power_restored"},
			Metrics:    []string{"temperature_c", "humidity_pct", "occupied", "total"},
			Commands:   []string{"open_compartment"},
		}
	case drivers.Charger:
		return Spec{
			EventTypes: []string{"session_started", "session_stopped", "fault", "over_temperature", "smoke"},
			Metrics:    []string{"power_w", "voltage_v", "current_a", "temp_c", "energy_wh"},
			PortMetric: true,
			Commands:   []string{"start_session", "stop_session"},
		}
	}
	return Spec{}
}

// Ports is the number of ports of a simulated charger, numbered from 1.
const Ports = 2

type pinKey struct {
	port   int // 0 when not per port
	metric string
}

type pin struct {
	from, to float64
	start    time.Time
	over     time.Duration
}

func (p pin) at(now time.Time) float64 {
	if p.over <= 0 || !now.Before(p.start.Add(p.over)) {
		return p.to
	}
	frac := float64(now.Sub(p.start)) / float64(p.over)
	return p.from + (p.to-p.from)*frac
}

type pending struct {
	due time.Time
	ev  Event
}

// base holds what every family shares: randomness, the current metric values with their
// pins, and events scheduled for later.
type base struct {
	opt     Options
	rng     *rand.Rand
	last    time.Time
	cur     map[pinKey]float64
	pins    map[pinKey]pin
	pending []pending
}

func newBase(opt Options) *base {
	return &base{opt: opt, rng: rand.New(rand.NewPCG(opt.Seed, opt.Seed^0x9e3779b97f4a7c15)),
		cur: map[pinKey]float64{}, pins: map[pinKey]pin{}}
}

// step returns the time elapsed since the previous step (zero on the first).
func (b *base) step(now time.Time) time.Duration {
	if b.last.IsZero() || now.Before(b.last) {
		b.last = now
		return 0
	}
	dt := now.Sub(b.last)
	b.last = now
	return dt
}

// set records a metric's natural value, or its pinned value if it is pinned, and returns
// what was recorded.
func (b *base) set(now time.Time, port int, metric string, natural float64) float64 {
	k := pinKey{port, metric}
	v := natural
	if p, ok := b.pins[k]; ok {
		v = p.at(now)
	}
	b.cur[k] = v
	return v
}

// key checks a metric and its port against the spec.
func key(spec Spec, port *int, metric string) (pinKey, error) {
	if !slices.Contains(spec.Metrics, metric) {
		return pinKey{}, fmt.Errorf("family: unknown metric %q (want one of %v)", metric, spec.Metrics)
	}
	k := pinKey{metric: metric}
	switch {
	case spec.PortMetric && port == nil:
		return k, fmt.Errorf("family: metric %q is per port: a port is required", metric)
	case spec.PortMetric && (*port < 1 || *port > Ports):
		return k, fmt.Errorf("family: port %d out of range 1..%d", *port, Ports)
	case spec.PortMetric:
		k.port = *port
	case port != nil:
		return k, fmt.Errorf("family: metric %q is not per port", metric)
	}
	return k, nil
}

func (b *base) release(spec Spec, port *int, metric string) error {
	k, err := key(spec, port, metric)
	if err != nil {
		return err
	}
	delete(b.pins, k)
	return nil
}

func (b *base) pin(now time.Time, spec Spec, port *int, metric string, value float64, over time.Duration) error {
	k, err := key(spec, port, metric)
	if err != nil {
		return err
	}
	from, ok := b.cur[k]
	if !ok {
		from = value
	}
	if p, ok := b.pins[k]; ok {
		from = p.at(now)
	}
	b.pins[k] = pin{from: from, to: value, start: now, over: over}
	b.cur[k] = from
	return nil
}

func (b *base) report(now time.Time, port int, metrics []string) drivers.Telemetry {
	t := drivers.Telemetry{TS: now.UnixMilli(), Metrics: make([]drivers.Metric, 0, len(metrics))}
	if port > 0 {
		p := port
		t.Port = &p
	}
	for _, m := range metrics {
		t.Metrics = append(t.Metrics, drivers.Metric{Name: m, Value: b.cur[pinKey{port, m}]})
	}
	return t
}

func (b *base) later(now time.Time, d time.Duration, ev Event) {
	b.pending = append(b.pending, pending{due: now.Add(d), ev: ev})
}

// due removes and returns the scheduled events whose time has come, in order.
func (b *base) due(now time.Time) []Event {
	var out []Event
	kept := b.pending[:0]
	for _, p := range b.pending {
		if now.Before(p.due) {
			kept = append(kept, p)
			continue
		}
		out = append(out, p.ev)
	}
	b.pending = kept
	return out
}

// chance reports whether an activity with mean interval ActivityEvery happens within dt.
func (b *base) chance(dt time.Duration) bool {
	return b.opt.AutoEvents && dt > 0 && b.rng.Float64() < 1-math.Exp(-float64(dt)/float64(b.opt.ActivityEvery))
}

func (b *base) noise(sd float64) float64 { return b.rng.NormFloat64() * sd }

func (b *base) pick(xs []string) string { return xs[b.rng.IntN(len(xs))] }

func round(v float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(v*p) / p
}

func ptr[T any](v T) *T { return &v }

func unknownCommand(name string) error { return fmt.Errorf("family: unknown command %q", name) }

// intArg reads an integer argument of a command.
func intArg(cmd drivers.Command, name string) (int, error) {
	v, ok := cmd.Args[name].(float64)
	if !ok || v != math.Trunc(v) {
		return 0, fmt.Errorf("family: command %s: argument %q must be an integer", cmd.Name, name)
	}
	return int(v), nil
}

// stringArg reads a string argument of a command.
func stringArg(cmd drivers.Command, name string) (string, error) {
	v, ok := cmd.Args[name].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("family: command %s: argument %q must be a non-empty string", cmd.Name, name)
	}
	return v, nil
}

// CheckEvent reports whether ev is an event a device of family f may send: a known type
// with the data fields the type needs.
func CheckEvent(f drivers.Family, ev Event) error {
	spec := SpecOf(f)
	if !slices.Contains(spec.EventTypes, ev.Type) {
		return fmt.Errorf("family: %q is not a %s event (want one of %v)", ev.Type, f, spec.EventTypes)
	}
	d := ev.Data
	var missing []string
	need := func(ok bool, field string) {
		if !ok {
			missing = append(missing, field)
		}
	}
	switch ev.Type {
	case "sos":
		if d.Source != "" && !slices.Contains([]string{"pendant", "wall", "pull_cord"}, d.Source) {
			return fmt.Errorf("family: sos source %q is not pendant, wall or pull_cord", d.Source)
		}
		need(d.Source != "", "source")
	case "inactivity":
		need(d.Hours > 0, "hours")
	case "low_battery":
		need(d.BatteryPct != nil, "battery_pct")
	case "door_opened", "door_closed":
		need(d.Compartment != "", "compartment")
	case "parcel_deposited", "parcel_collected":
		need(d.Compartment != "", "compartment")
		need(d.Parcel != "", "parcel")
	case "session_started":
		need(d.Port != nil, "port")
		need(d.Session != "", "session")
	case "session_stopped":
		need(d.Port != nil, "port")
		need(d.Session != "", "session")
		need(d.EnergyWh != nil, "energy_wh")
	case "fault":
		need(d.Port != nil, "port")
		need(d.Code != "", "code")
	case "over_temperature":
		need(d.Port != nil, "port")
		need(d.TempC != nil, "temp_c")
	}
	if len(missing) > 0 {
		return fmt.Errorf("family: %s event needs data %v", ev.Type, missing)
	}
	return nil
}
