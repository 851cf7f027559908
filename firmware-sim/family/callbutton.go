package family

import (
	"time"

	"github.com/community-edge/edge/drivers"
)

// callButton is an elderly SOS call button: a wall unit with a pendant and a pull cord, on a
// battery that drains slowly, reporting its radio signal strength.
type callButton struct {
	*base
	spec     Spec
	battery  float64 // percent
	drain    float64 // percent per hour
	rssiBase float64
	lowSent  bool
}

// lowBattery is the threshold under which the button raises low_battery, once; it re-arms
// above lowBatteryRearm (battery replaced).
const (
	lowBattery      = 20.0
	lowBatteryRearm = 25.0
)

func newCallButton(b *base) *callButton {
	return &callButton{base: b, spec: SpecOf(drivers.CallButton),
		battery:  60 + b.rng.Float64()*40,
		drain:    0.05 + b.rng.Float64()*0.1,
		rssiBase: -85 + b.rng.Float64()*30}
}

func (c *callButton) Family() drivers.Family { return drivers.CallButton }

func (c *callButton) Advance(now time.Time) []Event {
	dt := c.step(now)
	c.battery = max(0, c.battery-c.drain*dt.Hours())
	batt := c.set(now, 0, "battery_pct", round(c.battery, 1))
	c.set(now, 0, "rssi_dbm", round(c.rssiBase+c.noise(2), 0))
	evs := c.due(now)
	switch {
	case batt < lowBattery && !c.lowSent:
		c.lowSent = true
		evs = append(evs, Event{Type: "low_battery", Data: drivers.EventData{BatteryPct: ptr(batt)}})
	case batt > lowBatteryRearm:
		c.lowSent = false
	}
	return evs
}

func (c *callButton) Telemetry(now time.Time) []drivers.Telemetry {
	return []drivers.Telemetry{c.report(now, 0, c.spec.Metrics)}
}

func (c *callButton) Apply(Event) {}

func (c *callButton) Command(_ time.Time, cmd drivers.Command) error {
	if cmd.Name != "locate" {
		return unknownCommand(cmd.Name)
	}
	return nil // the button beeps; nothing is reported
}

func (c *callButton) Pin(now time.Time, port *int, metric string, value float64, over time.Duration) error {
	return c.pin(now, c.spec, port, metric, value, over)
}

func (c *callButton) Release(port *int, metric string) error { return c.release(c.spec, port, metric) }

func (c *callButton) RandomEvent() Event {
	switch typ := c.pick(c.spec.EventTypes); typ {
	case "sos":
		return Event{Type: typ, Data: drivers.EventData{Source: c.pick([]string{"pendant", "wall", "pull_cord"})}}
	case "inactivity":
		return Event{Type: typ, Data: drivers.EventData{Hours: float64(12 + c.rng.IntN(24))}}
	case "low_battery":
		return Event{Type: typ, Data: drivers.EventData{BatteryPct: ptr(round(5+c.rng.Float64()*15, 1))}}
	default:
		return Event{Type: typ}
	}
}
