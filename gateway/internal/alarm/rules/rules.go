// Package rules owns the gateway's built-in alarm rules and their limits: which device events
// raise which alarms at which severity, which events clear or cancel them, which timers they
// start (a locker door left open, a parcel left uncollected by a resident living alone, a
// telemetry value held past a threshold, an unacknowledged critical alarm), and the limits, per
// family and per device. Rules do no I/O: they map an input and a time to decisions.
package rules

import (
	"fmt"
	"time"

	"github.com/community-edge/edge/drivers"
)

// Config holds the rules' limits. Zero fields take the defaults of Defaults.
type Config struct {
	EscalateAfter time.Duration       `yaml:"escalate_after"` // a critical alarm not acknowledged by then is escalated
	Locker        LockerLimits        `yaml:"locker"`
	Charger       ChargerLimits       `yaml:"charger"`
	Devices       map[string]Override `yaml:"devices"` // per device id
}

// LockerLimits are the parcel lockers' limits.
type LockerLimits struct {
	DoorOpenLimit     time.Duration `yaml:"door_open_limit"`    // a door open longer raises door_left_open
	ParcelUncollected time.Duration `yaml:"parcel_uncollected"` // for residents living alone: a welfare check
}

// ChargerLimits are the charging posts' telemetry thresholds.
type ChargerLimits struct {
	TempCMax    float64       `yaml:"temp_c_max"`    // port temperature above this …
	TempFor     time.Duration `yaml:"temp_for"`      // … for this long raises temperature_high
	PortRatingW float64       `yaml:"port_rating_w"` // power above the port's rating …
	PowerFor    time.Duration `yaml:"power_for"`     // … for this long raises over_power
}

// Override changes some limits for one device.
type Override struct {
	Locker  LockerLimits  `yaml:"locker"`
	Charger ChargerLimits `yaml:"charger"`
}

// Defaults are the limits when the configuration gives none.
func Defaults() Config {
	return Config{
		EscalateAfter: 60 * time.Second,
		Locker:        LockerLimits{DoorOpenLimit: 5 * time.Minute, ParcelUncollected: 72 * time.Hour},
		Charger:       ChargerLimits{TempCMax: 70, TempFor: 30 * time.Second, PortRatingW: 7000, PowerFor: 10 * time.Second},
	}
}

// WithDefaults fills zero fields from Defaults.
func (c Config) WithDefaults() Config {
	d := Defaults()
	if c.EscalateAfter == 0 {
		c.EscalateAfter = d.EscalateAfter
	}
	c.Locker = c.Locker.or(d.Locker)
	c.Charger = c.Charger.or(d.Charger)
	return c
}

func (l LockerLimits) or(d LockerLimits) LockerLimits {
	if l.DoorOpenLimit == 0 {
		l.DoorOpenLimit = d.DoorOpenLimit
	}
	if l.ParcelUncollected == 0 {
		l.ParcelUncollected = d.ParcelUncollected
	}
	return l
}

func (l ChargerLimits) or(d ChargerLimits) ChargerLimits {
	if l.TempCMax == 0 {
		l.TempCMax = d.TempCMax
	}
	if l.TempFor == 0 {
		l.TempFor = d.TempFor
	}
	if l.PortRatingW == 0 {
		l.PortRatingW = d.PortRatingW
	}
	if l.PowerFor == 0 {
		l.PowerFor = d.PowerFor
	}
	return l
}

// Validate returns the configuration's problems, each naming its key under prefix.
func (c Config) Validate(prefix string) []string {
	var p []string
	neg := func(key string, d time.Duration) {
		if d < 0 {
			p = append(p, fmt.Sprintf("%s.%s: must not be negative, got %s", prefix, key, d))
		}
	}
	check := func(pre string, l LockerLimits, ch ChargerLimits) {
		neg(pre+"locker.door_open_limit", l.DoorOpenLimit)
		neg(pre+"locker.parcel_uncollected", l.ParcelUncollected)
		neg(pre+"charger.temp_for", ch.TempFor)
		neg(pre+"charger.power_for", ch.PowerFor)
		if ch.TempCMax < 0 || ch.TempCMax > 200 {
			p = append(p, fmt.Sprintf("%s.%scharger.temp_c_max: must be 0-200 °C, got %g", prefix, pre, ch.TempCMax))
		}
		if ch.PortRatingW < 0 {
			p = append(p, fmt.Sprintf("%s.%scharger.port_rating_w: must not be negative, got %g", prefix, pre, ch.PortRatingW))
		}
	}
	neg("escalate_after", c.EscalateAfter)
	check("", c.Locker, c.Charger)
	for id, o := range c.Devices {
		check("devices."+id+".", o.Locker, o.Charger)
	}
	return p
}

// For returns the limits in force for one device.
func (c Config) For(device string) (LockerLimits, ChargerLimits) {
	o, ok := c.Devices[device]
	if !ok {
		return c.Locker, c.Charger
	}
	return o.Locker.or(c.Locker), o.Charger.or(c.Charger)
}

// Op is what a decision does.
type Op uint8

// Decision operations.
const (
	OpRaise     Op = iota + 1 // raise an alarm (or count a repeat of the open one of that device and type)
	OpClear                   // close the device's open alarms of Condition, automatically
	OpCancel                  // record the resident's cancel on the device's open alarms of Types
	OpTimer                   // start (or keep) the timer Key; when it fires, Raise it
	OpStopTimer               // stop the timer Key
)

// Decision is one thing a rule asks the engine to do.
type Decision struct {
	Op        Op
	Type      string
	Severity  Severity
	Condition string   // on raise: what clears it; on clear: which alarms to close
	Types     []string // on cancel
	Key       string   // timer key
	AtMS      int64    // timer deadline
	Detail    map[string]any
}

// Event is a stored device event, as the rules see it.
type Event struct {
	Device   string
	Family   drivers.Family
	Type     string
	TSMS     int64 // device time
	AtMS     int64 // gateway time it was received
	Data     drivers.EventData
	Resident ResidentInfo // for parcel events: who the parcel is for, if known
}

// ResidentInfo says what the rules need to know of a parcel's addressee.
type ResidentInfo struct {
	Known      bool
	LivesAlone bool
}

func raise(t string, s Severity, cond string, detail map[string]any) Decision {
	return Decision{Op: OpRaise, Type: t, Severity: s, Condition: cond, Detail: detail}
}

// Condition keys.
func condOffline() string                { return "offline" }
func condPower() string                  { return "power" }
func condDoor(compartment string) string { return "door:" + compartment }
func condParcel(parcel string) string    { return "parcel:" + parcel }

// TimerKey names a per-device timer.
func TimerKey(device, what string) string { return device + "|" + what }

// OnEvent returns what one stored event asks for, given the limits cfg.
func OnEvent(cfg Config, ev Event) []Decision {
	lock, _ := cfg.For(ev.Device)
	d := ev.Data
	switch ev.Type {
	case drivers.EventDeviceOffline:
		sev := Medium
		if ev.Family == drivers.CallButton {
			sev = High // a dead call button is a danger
		}
		return []Decision{raise(TypeDeviceOffline, sev, condOffline(), map[string]any{"reason": d.Reason})}
	case drivers.EventDeviceOnline:
		return []Decision{{Op: OpClear, Condition: condOffline()}}
	}
	switch ev.Family {
	case drivers.CallButton:
		switch ev.Type {
		case "sos":
			return []Decision{raise(TypeSOS, Critical, "", map[string]any{"source": d.Source})}
		case "fall":
			return []Decision{raise(TypeFall, Critical, "", nil)}
		case "inactivity":
			return []Decision{raise(TypeInactivity, High, "", map[string]any{"hours": d.Hours})}
		case "cancel":
			return []Decision{{Op: OpCancel, Types: []string{TypeSOS, TypeFall}}}
		case "tamper":
			return []Decision{raise(TypeTamper, Medium, "", nil)}
		case "low_battery":
			det := map[string]any{}
			if d.BatteryPct != nil {
				det["battery_pct"] = *d.BatteryPct
			}
			return []Decision{raise(TypeLowBattery, Low, "", det)}
		}
	case drivers.Locker:
		switch ev.Type {
		case "door_opened":
			key := TimerKey(ev.Device, condDoor(d.Compartment))
			return []Decision{{Op: OpTimer, Key: key, AtMS: ev.AtMS + lock.DoorOpenLimit.Milliseconds(), Type: TypeDoorLeftOpen,
				Severity: Medium, Condition: condDoor(d.Compartment), Detail: map[string]any{"compartment": d.Compartment}}}
		case "door_closed":
			return []Decision{{Op: OpStopTimer, Key: TimerKey(ev.Device, condDoor(d.Compartment))},
				{Op: OpClear, Condition: condDoor(d.Compartment)}}
		case "parcel_deposited":
			if !ev.Resident.LivesAlone {
				return nil
			}
			return []Decision{{Op: OpTimer, Key: TimerKey(ev.Device, condParcel(d.Parcel)), AtMS: ev.AtMS + lock.ParcelUncollected.Milliseconds(),
				Type: TypeParcelUncollected, Severity: High, Condition: condParcel(d.Parcel),
				Detail: map[string]any{"parcel": d.Parcel, "resident": d.Resident, "compartment": d.Compartment}}}
		case "parcel_collected":
			return []Decision{{Op: OpStopTimer, Key: TimerKey(ev.Device, condParcel(d.Parcel))},
				{Op: OpClear, Condition: condParcel(d.Parcel)}}
		case "tamper":
			return []Decision{raise(TypeTamper, High, "", map[string]any{"compartment": d.Compartment})}
		case "power_lost":
			return []Decision{raise(TypePowerLost, Medium, condPower(), nil)}
		case "power_restored":
			return []Decision{{Op: OpClear, Condition: condPower()}}
		}
	case drivers.Charger:
		port := map[string]any{}
		if d.Port != nil {
			port["port"] = *d.Port
		}
		switch ev.Type {
		case "smoke":
			return []Decision{raise(TypeSmoke, Critical, "", port)}
		case "over_temperature":
			if d.TempC != nil {
				port["temp_c"] = *d.TempC
			}
			return []Decision{raise(TypeOverTemperature, High, "", port)}
		case "fault":
			port["code"], port["vendor_code"] = d.Code, d.VendorCode
			return []Decision{raise(TypeChargerFault, faultSeverity(d.Code), "", port)}
		}
	}
	return nil
}

// faultSeverity ranks OCPP 1.6 ChargePointErrorCodes: the ones that can start a fire or hurt
// someone are high, the rest medium.
func faultSeverity(code string) Severity {
	switch code {
	case "HighTemperature", "GroundFailure", "OverCurrentFailure", "OverVoltage", "UnderVoltage":
		return High
	}
	return Medium
}

// Reading is one telemetry value, as the threshold rules see it.
type Reading struct {
	Device string
	Family drivers.Family
	Port   *int
	Metric string
	Value  float64
	AtMS   int64
	// Timing says whether one of the device's threshold timers is running. Below its limit
	// with none running there is nothing to stop: no decision, nothing built (most readings).
	Timing bool
}

// threshold is a telemetry rule: Metric above a limit for a while raises Type.
type threshold struct {
	metric   string
	typ      string
	severity Severity
	limit    func(ChargerLimits) (float64, time.Duration)
}

var chargerThresholds = []threshold{
	{"temp_c", TypeTempHigh, High, func(c ChargerLimits) (float64, time.Duration) { return c.TempCMax, c.TempFor }},
	{"power_w", TypeOverPower, Medium, func(c ChargerLimits) (float64, time.Duration) { return c.PortRatingW, c.PowerFor }},
}

// OnReading returns the timer decisions for one telemetry value: a value over its limit
// starts (or keeps) a timer that raises the alarm when it fires; a value back under stops it.
func OnReading(cfg Config, r Reading) []Decision {
	if r.Family != drivers.Charger {
		return nil
	}
	_, ch := cfg.For(r.Device)
	for _, t := range chargerThresholds {
		if t.metric != r.Metric {
			continue
		}
		limit, hold := t.limit(ch)
		if r.Value <= limit && !r.Timing {
			return nil
		}
		what := "thr:" + r.Metric
		detail := map[string]any{r.Metric: r.Value, "limit": limit}
		if r.Port != nil {
			what += fmt.Sprintf(":%d", *r.Port)
			detail["port"] = *r.Port
		}
		key := TimerKey(r.Device, what)
		if r.Value > limit {
			return []Decision{{Op: OpTimer, Key: key, AtMS: r.AtMS + hold.Milliseconds(), Type: t.typ, Severity: t.severity, Detail: detail}}
		}
		return []Decision{{Op: OpStopTimer, Key: key}}
	}
	return nil
}

// Escalates reports whether an alarm of this severity escalates when not acknowledged.
func Escalates(s Severity) bool { return s == Critical }
