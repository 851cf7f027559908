package family

import (
	"fmt"
	"math"
	"time"

	"github.com/community-edge/edge/drivers"
)

// compartments is the number of compartments of a simulated locker, named A01…A24.
const compartments = 24

// locker is a parcel locker: couriers deposit parcels, residents collect them, each time a
// compartment door opens and closes; the cabinet reports its climate and occupancy.
type locker struct {
	*base
	spec     Spec
	parcels  map[string]string // compartment → parcel
	open     map[string]bool
	tempBase float64
	humBase  float64
}

func newLocker(b *base) *locker {
	l := &locker{base: b, spec: SpecOf(drivers.Locker), parcels: map[string]string{}, open: map[string]bool{},
		tempBase: 20 + b.rng.Float64()*6, humBase: 50 + b.rng.Float64()*15}
	for range b.rng.IntN(compartments / 2) {
		l.parcels[l.compartment(b.rng.IntN(compartments))] = l.parcelNo()
	}
	return l
}

func (l *locker) compartment(i int) string { return fmt.Sprintf("A%02d", i+1) }

func (l *locker) parcelNo() string { return fmt.Sprintf("SF%010d", l.rng.Int64N(1e10)) }

func (l *locker) resident() string {
	return fmt.Sprintf("R-%d%02d%02d", 1+l.rng.IntN(12), 1+l.rng.IntN(30), 1+l.rng.IntN(4))
}

func (l *locker) Family() drivers.Family { return drivers.Locker }

func (l *locker) Advance(now time.Time) []Event {
	dt := l.step(now)
	day := 2 * math.Pi * float64(now.Hour()*60+now.Minute()) / (24 * 60)
	l.set(now, 0, "temperature_c", round(l.tempBase-3*math.Cos(day-math.Pi/6)+l.noise(0.15), 1))
	l.set(now, 0, "humidity_pct", round(l.humBase+8*math.Cos(day-math.Pi/6)+l.noise(0.5), 1))
	evs := l.due(now)
	if l.chance(dt) {
		evs = append(evs, l.activity(now)...)
	}
	for _, ev := range evs {
		l.Apply(ev)
	}
	l.set(now, 0, "occupied", float64(len(l.parcels)))
	l.set(now, 0, "total", compartments)
	return evs
}

// activity is a courier depositing a parcel or a resident collecting one: the door opens,
// the parcel moves, the door closes a few seconds later.
func (l *locker) activity(now time.Time) []Event {
	var free, full []string
	for i := range compartments {
		c := l.compartment(i)
		switch {
		case l.open[c]:
		case l.parcels[c] != "":
			full = append(full, c)
		default:
			free = append(free, c)
		}
	}
	var c string
	var ev Event
	switch {
	case len(free) > 0 && (len(full) == 0 || l.rng.Float64() < 0.55):
		c = l.pick(free)
		ev = Event{Type: "parcel_deposited", Data: drivers.EventData{Compartment: c, Parcel: l.parcelNo(), Resident: l.resident()}}
	case len(full) > 0:
		c = l.pick(full)
		ev = Event{Type: "parcel_collected", Data: drivers.EventData{Compartment: c, Parcel: l.parcels[c], Resident: l.resident()}}
	default:
		return nil
	}
	l.later(now, time.Duration(4+l.rng.IntN(8))*time.Second, Event{Type: "door_closed", Data: drivers.EventData{Compartment: c}})
	return []Event{{Type: "door_opened", Data: drivers.EventData{Compartment: c}}, ev}
}

func (l *locker) Telemetry(now time.Time) []drivers.Telemetry {
	return []drivers.Telemetry{l.report(now, 0, l.spec.Metrics)}
}

func (l *locker) Apply(ev Event) {
	c := ev.Data.Compartment
	switch ev.Type {
	case "door_opened":
		l.open[c] = true
	case "door_closed":
		delete(l.open, c)
	case "parcel_deposited":
		l.parcels[c] = ev.Data.Parcel
	case "parcel_collected":
		delete(l.parcels, c)
	}
}

func (l *locker) Command(now time.Time, cmd drivers.Command) error {
	if cmd.Name != "open_compartment" {
		return unknownCommand(cmd.Name)
	}
	c, err := stringArg(cmd, "compartment")
	if err != nil {
		return err
	}
	if !l.valid(c) {
		return fmt.Errorf("family: command open_compartment: no compartment %q", c)
	}
	l.later(now, 0, Event{Type: "door_opened", Data: drivers.EventData{Compartment: c}})
	l.later(now, 10*time.Second, Event{Type: "door_closed", Data: drivers.EventData{Compartment: c}})
	return nil
}

func (l *locker) valid(c string) bool {
	for i := range compartments {
		if l.compartment(i) == c {
			return true
		}
	}
	return false
}

func (l *locker) Pin(now time.Time, port *int, metric string, value float64, over time.Duration) error {
	return l.pin(now, l.spec, port, metric, value, over)
}

func (l *locker) Release(port *int, metric string) error { return l.release(l.spec, port, metric) }

func (l *locker) RandomEvent() Event {
	c := l.compartment(l.rng.IntN(compartments))
	switch typ := l.pick(l.spec.EventTypes); typ {
	case "door_opened", "door_closed":
		return Event{Type: typ, Data: drivers.EventData{Compartment: c}}
	case "parcel_deposited", "parcel_collected":
		return Event{Type: typ, Data: drivers.EventData{Compartment: c, Parcel: l.parcelNo(), Resident: l.resident()}}
	default:
		return Event{Type: typ}
	}
}
