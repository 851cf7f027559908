package family

import (
	"fmt"
	"math"
	"time"

	"github.com/community-edge/edge/drivers"
)

// Over-temperature protection of a charging port: above overTempC for overTempFor, the
// firmware reports over_temperature and a HighTemperature fault and stops the session; the
// port re-arms below overTempRearmC.
const (
	overTempC      = 70.0
	overTempFor    = 30 * time.Second
	overTempRearmC = 65.0
	ambientC       = 28.0
	thermalTau     = 5 * time.Minute
)

// charger is an e-bike charging post (电动自行车充电桩) with a few ports: residents start
// charging sessions, power follows the battery's charge curve, ports warm with the load.
type charger struct {
	*base
	spec  Spec
	ports [Ports + 1]port // index 0 unused
}

type port struct {
	session   string
	until     time.Time
	target    float64 // W
	energy    float64 // Wh, of the current or last session
	temp      float64 // natural temperature, °C
	hotSince  time.Time
	tripped   bool
	sessionNo int
}

func newCharger(b *base) *charger {
	c := &charger{base: b, spec: SpecOf(drivers.Charger)}
	for i := 1; i <= Ports; i++ {
		c.ports[i].temp = ambientC + b.noise(1)
	}
	return c
}

func (c *charger) Family() drivers.Family { return drivers.Charger }

func (c *charger) Advance(now time.Time) []Event {
	dt := c.step(now)
	evs := c.due(now)
	for i := 1; i <= Ports; i++ {
		evs = append(evs, c.advancePort(now, dt, i)...)
	}
	return evs
}

func (c *charger) advancePort(now time.Time, dt time.Duration, i int) []Event {
	p := &c.ports[i]
	var evs []Event
	if p.session != "" && !now.Before(p.until) {
		evs = append(evs, c.stop(i))
	}
	if p.session == "" && !p.tripped && c.chance(dt) {
		evs = append(evs, c.start(now, i))
	}
	power := 0.0
	if p.session != "" {
		// Constant power, tapering over the last minute of the session (CC/CV charge curve).
		left := p.until.Sub(now).Seconds()
		power = p.target * min(1, 0.3+left/60) * (1 + c.noise(0.02))
	}
	power = c.set(now, i, "power_w", round(max(0, power), 1))
	volt := c.set(now, i, "voltage_v", round(220+c.noise(1.5), 1))
	c.set(now, i, "current_a", round(power/volt, 2))
	p.energy += power * dt.Hours()
	c.set(now, i, "energy_wh", round(p.energy, 1))
	eq := ambientC + 0.04*power
	p.temp += (eq - p.temp) * (1 - math.Exp(-dt.Seconds()/thermalTau.Seconds()))
	temp := c.set(now, i, "temp_c", round(p.temp+c.noise(0.2), 1))
	return append(evs, c.protect(now, i, temp)...)
}

// protect is the firmware's over-temperature protection.
func (c *charger) protect(now time.Time, i int, temp float64) []Event {
	p := &c.ports[i]
	switch {
	case temp < overTempRearmC:
		p.hotSince, p.tripped = time.Time{}, false
		return nil
	case temp <= overTempC || p.tripped:
		return nil
	case p.hotSince.IsZero():
		p.hotSince = now
		return nil
	case now.Sub(p.hotSince) < overTempFor:
		return nil
	}
	p.tripped = true
	evs := []Event{
		{Type: "over_temperature", Data: drivers.EventData{Port: ptr(i), TempC: ptr(temp)}},
		{Type: "fault", Data: drivers.EventData{Port: ptr(i), Code: "HighTemperature", VendorCode: "E07"}},
	}
	if p.session != "" {
		evs = append(evs, c.stop(i))
	}
	return evs
}

func (c *charger) start(now time.Time, i int) Event {
	p := &c.ports[i]
	p.sessionNo++
	p.session = fmt.Sprintf("%08x-%d", c.rng.Uint32(), p.sessionNo)
	p.until = now.Add(time.Duration(5+c.rng.IntN(26)) * time.Minute)
	p.target = 150 + c.rng.Float64()*250
	p.energy = 0
	return Event{Type: "session_started", Data: drivers.EventData{Port: ptr(i), Session: p.session}}
}

func (c *charger) stop(i int) Event {
	p := &c.ports[i]
	ev := Event{Type: "session_stopped", Data: drivers.EventData{Port: ptr(i), Session: p.session, EnergyWh: ptr(round(p.energy, 1))}}
	p.session = ""
	return ev
}

func (c *charger) Telemetry(now time.Time) []drivers.Telemetry {
	out := make([]drivers.Telemetry, 0, Ports)
	for i := 1; i <= Ports; i++ {
		out = append(out, c.report(now, i, c.spec.Metrics))
	}
	return out
}

// Apply starts or stops a session raised from outside (a scenario's session_started).
func (c *charger) Apply(ev Event) {
	if ev.Data.Port == nil || *ev.Data.Port < 1 || *ev.Data.Port > Ports {
		return
	}
	p := &c.ports[*ev.Data.Port]
	switch ev.Type {
	case "session_started":
		c.start(c.last, *ev.Data.Port)
		p.session = ev.Data.Session
		p.until = c.last.Add(30 * time.Minute)
	case "session_stopped":
		p.session = ""
	}
}

func (c *charger) Command(now time.Time, cmd drivers.Command) error {
	if cmd.Name != "start_session" && cmd.Name != "stop_session" {
		return unknownCommand(cmd.Name)
	}
	i, err := intArg(cmd, "port")
	if err != nil {
		return err
	}
	if i < 1 || i > Ports {
		return fmt.Errorf("family: command %s: port %d out of range 1..%d", cmd.Name, i, Ports)
	}
	p := &c.ports[i]
	switch {
	case cmd.Name == "start_session" && p.session != "":
		return fmt.Errorf("family: command start_session: port %d is charging", i)
	case cmd.Name == "start_session" && p.tripped:
		return fmt.Errorf("family: command start_session: port %d is in fault HighTemperature", i)
	case cmd.Name == "start_session":
		c.pending = append(c.pending, pending{due: now, ev: c.start(now, i)})
	case p.session == "":
		return fmt.Errorf("family: command stop_session: port %d is not charging", i)
	default:
		c.pending = append(c.pending, pending{due: now, ev: c.stop(i)})
	}
	return nil
}

func (c *charger) Pin(now time.Time, port *int, metric string, value float64, over time.Duration) error {
	return c.pin(now, c.spec, port, metric, value, over)
}

func (c *charger) Release(port *int, metric string) error { return c.release(c.spec, port, metric) }

func (c *charger) RandomEvent() Event {
	i := 1 + c.rng.IntN(Ports)
	d := drivers.EventData{Port: ptr(i)}
	typ := c.pick(c.spec.EventTypes)
	switch typ {
	case "session_started":
		d.Session = fmt.Sprintf("%08x-1", c.rng.Uint32())
	case "session_stopped":
		d.Session, d.EnergyWh = fmt.Sprintf("%08x-1", c.rng.Uint32()), ptr(round(c.rng.Float64()*2000, 1))
	case "fault":
		d.Code = c.pick([]string{"HighTemperature", "GroundFailure", "OverCurrentFailure", "OverVoltage"})
		d.VendorCode = fmt.Sprintf("E%02d", 1+c.rng.IntN(20))
	case "over_temperature":
		d.TempC = ptr(round(70+c.rng.Float64()*15, 1))
	case "smoke":
		d = drivers.EventData{}
	}
	return Event{Type: typ, Data: d}
}
