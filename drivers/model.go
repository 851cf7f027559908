// Package drivers owns the canonical device model of the gateway: the families, the decoded
// message (event, telemetry, status, command acknowledgement), the MQTT topic layout of both
// dialects, the decode errors with their rejection reasons, and the registry through which the
// gateway reaches each device family's driver.
package drivers

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Family is a device family. Each family has one driver.
type Family string

// The device families the gateway knows.
const (
	CallButton Family = "callbutton"
	Locker     Family = "locker"
	Charger    Family = "charger"
)

// Families lists every family in a stable order.
func Families() []Family { return []Family{CallButton, Locker, Charger} }

// Valid reports whether f is a known family.
func (f Family) Valid() bool {
	switch f {
	case CallButton, Locker, Charger:
		return true
	}
	return false
}

// Kind says what a decoded message carries.
type Kind uint8

// Message kinds, one per device → gateway channel.
const (
	KindEvent Kind = iota + 1
	KindTelemetry
	KindStatus
	KindCmdAck
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindTelemetry:
		return "telemetry"
	case KindStatus:
		return "status"
	case KindCmdAck:
		return "cmd_ack"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText encodes a kind as its channel name.
func (k Kind) MarshalText() ([]byte, error) {
	if k < KindEvent || k > KindCmdAck {
		return nil, fmt.Errorf("drivers: cannot encode %s", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText decodes a channel name into a kind.
func (k *Kind) UnmarshalText(b []byte) error {
	for c := KindEvent; c <= KindCmdAck; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("drivers: unknown message kind %q", b)
}

// Message is one decoded device message in the canonical model. Exactly one of Event,
// Telemetry, Status or Ack is set, as Kind says.
//
// Its JSON form is the canonical form of a decoded message (the drivers' golden files use it).
type Message struct {
	Kind   Kind   `json:"kind"`
	Site   string `json:"site,omitempty"`
	Family Family `json:"family,omitempty"`
	Device string `json:"device,omitempty"`

	Event     *Event     `json:"event,omitempty"`
	Telemetry *Telemetry `json:"telemetry,omitempty"`
	Status    *Status    `json:"status,omitempty"`
	Ack       *CmdAck    `json:"ack,omitempty"`
}

// Limits on what a device may send; beyond them a message is rejected with ReasonOversize.
const (
	MaxPayload  = 16 << 10 // bytes of one MQTT payload
	MaxIDLen    = 128      // bytes of an event, command or acknowledgement id
	MaxTextLen  = 256      // bytes of a text field: firmware version, compartment, parcel, session …
	MaxErrorLen = 1024     // bytes of a command acknowledgement's error text
)

// Event is something that happened on a device. ID is unique per device; the pair
// (Device, ID) identifies an event across redeliveries.
type Event struct {
	ID   string    `json:"id"`
	TS   int64     `json:"ts"` // Unix milliseconds, the device's clock
	Type string    `json:"type"`
	Data EventData `json:"data"`
}

// EventData carries the typed fields an event type may have. Fields that the type does not
// use are zero and omitted from JSON.
type EventData struct {
	// callbutton
	Source     string   `json:"source,omitempty"`      // sos: pendant, wall, pull_cord
	Hours      float64  `json:"hours,omitempty"`       // inactivity
	BatteryPct *float64 `json:"battery_pct,omitempty"` // low_battery
	// locker
	Compartment string `json:"compartment,omitempty"`
	Parcel      string `json:"parcel,omitempty"`
	Resident    string `json:"resident,omitempty"`
	// charger
	Port       *int     `json:"port,omitempty"`
	Session    string   `json:"session,omitempty"`
	EnergyWh   *float64 `json:"energy_wh,omitempty"`
	Code       string   `json:"code,omitempty"`        // OCPP 1.6 ChargePointErrorCode
	VendorCode string   `json:"vendor_code,omitempty"` // vendor's own fault code
	TempC      *float64 `json:"temp_c,omitempty"`
	// gateway-made events (device_online / device_offline)
	Reason string `json:"reason,omitempty"`
}

// Metric is one named measurement.
type Metric struct {
	Name  string
	Value float64
}

// Telemetry is a periodic measurement report; it doubles as the heartbeat.
//
// Its JSON form is the native telemetry payload, metrics in the order of the slice, plus the
// names of the metrics that were dropped as unknown_metrics.
type Telemetry struct {
	TS      int64 // Unix milliseconds, the device's clock
	Port    *int  // charger port, if the report is per port
	Metrics []Metric
	// Unknown names the metrics (native) or properties (Alink) in the report that the family
	// or the product model does not know. They are not in Metrics; the report is still
	// accepted, so that newer firmware keeps its heartbeat. The gateway may count them.
	Unknown []string
}

// MarshalJSON encodes the report as a native telemetry payload.
func (t *Telemetry) MarshalJSON() ([]byte, error) {
	b := append([]byte(`{"ts":`), strconv.FormatInt(t.TS, 10)...)
	if t.Port != nil {
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(*t.Port), 10)
	}
	b = append(b, `,"metrics":{`...)
	for i, m := range t.Metrics {
		if i > 0 {
			b = append(b, ',')
		}
		name, err := json.Marshal(m.Name)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.Value)
		if err != nil {
			return nil, fmt.Errorf("drivers: metric %s: %w", m.Name, err)
		}
		b = append(append(append(b, name...), ':'), v...)
	}
	b = append(b, '}')
	if len(t.Unknown) > 0 {
		u, err := json.Marshal(t.Unknown)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"unknown_metrics":`...), u...)
	}
	return append(b, '}'), nil
}

// Metric returns the value of the named metric and whether it is present.
func (t *Telemetry) Metric(name string) (float64, bool) {
	for _, m := range t.Metrics {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// State is a device's connection state as the device (or its last will) reports it.
type State string

// Connection states.
const (
	Online  State = "online"
	Offline State = "offline"
)

// Status is the retained status message, also used as the last will.
type Status struct {
	State State  `json:"state"`
	FW    string `json:"fw,omitempty"`
	TS    int64  `json:"ts,omitempty"`
}

// CmdAck answers a command sent to the device.
type CmdAck struct {
	ID    string `json:"id"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Command is sent by the gateway to a device on its cmd channel.
type Command struct {
	ID   string         `json:"id"`
	TS   int64          `json:"ts"`
	Name string         `json:"name"`
	Args map[string]any `json:"args,omitempty"`
}

// Event types made by the gateway itself rather than a device.
const (
	EventDeviceOnline  = "device_online"
	EventDeviceOffline = "device_offline"
)

// Reason is why a message was rejected; it is the label of the rejection counter.
type Reason string

// Rejection reasons.
const (
	ReasonBadTopic      Reason = "bad_topic"          // topic of neither dialect, not a device channel, Alink method not matching the topic
	ReasonUnknownFamily Reason = "unknown_family"     // native topic names no known family
	ReasonUnknownDevice Reason = "unknown_device"     // for the gateway: a device it does not know
	ReasonWrongFamily   Reason = "wrong_family"       // a driver given another family's Alink model
	ReasonMalformed     Reason = "malformed_json"     // not one JSON object (or invalid UTF-8, nested over 32)
	ReasonWrongType     Reason = "wrong_type"         // a value of the wrong JSON type
	ReasonMissingField  Reason = "missing_field"      // a required member absent, null or empty
	ReasonUnknownType   Reason = "unknown_event_type" // an event type or Alink identifier the family or model does not have
	ReasonUnknownMetric Reason = "unknown_metric"     // not produced by the drivers: unknown metrics go to Telemetry.Unknown
	ReasonOversize      Reason = "oversize"           // payload, id or text longer than its limit
	ReasonUnknownModel  Reason = "unknown_product"    // Alink product key without a model
	ReasonOutOfRange    Reason = "out_of_range"       // a number outside its bounds, or a value outside its set
)

// Reasons lists every rejection reason, so counters can be made for each up front.
func Reasons() []Reason {
	return []Reason{ReasonBadTopic, ReasonUnknownFamily, ReasonUnknownDevice, ReasonWrongFamily,
		ReasonMalformed, ReasonWrongType, ReasonMissingField, ReasonUnknownType, ReasonUnknownMetric,
		ReasonOversize, ReasonUnknownModel, ReasonOutOfRange}
}

// DecodeError is a rejected message: the reason is for counting, the error for the log.
type DecodeError struct {
	Reason Reason
	Err    error
}

func (e *DecodeError) Error() string { return string(e.Reason) + ": " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Reject makes a DecodeError with a formatted message.
func Reject(r Reason, format string, args ...any) error {
	return &DecodeError{Reason: r, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the rejection reason carried by err, or "" if it carries none.
func ReasonOf(err error) Reason {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Reason
	}
	return ""
}
