package tsdb

import (
	"math"
	"strconv"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/ingest"
)

// Measurements of the time series schema (design: Time series).
const (
	MeasurementEvent = "device_event"
	MeasurementAlarm = "alarm"
)

// appendTelemetry appends one line for a telemetry report: measurement = family, tags site,
// device (and port), one float field per finite metric, timestamp = the device's ts in ms. It
// returns b unchanged when the report has no metric that can be stored.
func appendTelemetry(b []byte, msg *drivers.Message) []byte {
	t := msg.Telemetry
	if t == nil {
		return b
	}
	start := len(b)
	b = append(b, msg.Family...)
	b = appendTag(b, "device", msg.Device)
	if t.Port != nil {
		b = append(b, ",port="...)
		b = strconv.AppendInt(b, int64(*t.Port), 10)
	}
	b = appendTag(b, "site", msg.Site)
	sep := byte(' ')
	for _, m := range t.Metrics {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Name == "" {
			continue
		}
		b = append(b, sep)
		b = appendKey(b, m.Name)
		b = append(b, '=')
		b = strconv.AppendFloat(b, m.Value, 'g', -1, 64)
		sep = ','
	}
	if sep == ' ' {
		return b[:start]
	}
	return appendTS(b, t.TS)
}

// appendEvent appends one device_event line: tags site, family, device, type; fields id and
// the event's data (the resident is left out: personal data stays in the local store).
func appendEvent(b []byte, s *ingest.Stored) []byte {
	site, family := "", s.Family
	if s.Device != nil {
		site = s.Device.Site
	}
	b = append(b, MeasurementEvent...)
	b = appendTag(b, "device", s.DeviceID)
	b = appendTag(b, "family", family)
	b = appendTag(b, "site", site)
	b = appendTag(b, "type", s.Type)
	b = append(b, " id="...)
	b = appendString(b, s.EventID)
	d := &s.Data
	b = appendStringField(b, "source", d.Source)
	if d.Hours != 0 {
		b = appendFloatField(b, "hours", d.Hours)
	}
	if d.BatteryPct != nil {
		b = appendFloatField(b, "battery_pct", *d.BatteryPct)
	}
	b = appendStringField(b, "compartment", d.Compartment)
	b = appendStringField(b, "parcel", d.Parcel)
	if d.Port != nil {
		b = append(b, ",port="...)
		b = strconv.AppendInt(b, int64(*d.Port), 10)
		b = append(b, 'i')
	}
	b = appendStringField(b, "session", d.Session)
	if d.EnergyWh != nil {
		b = appendFloatField(b, "energy_wh", *d.EnergyWh)
	}
	b = appendStringField(b, "code", d.Code)
	b = appendStringField(b, "vendor_code", d.VendorCode)
	if d.TempC != nil {
		b = appendFloatField(b, "temp_c", *d.TempC)
	}
	b = appendStringField(b, "reason", d.Reason)
	return appendTS(b, s.TSMS)
}

// appendAlarm appends one alarm line: tags site, device, type, severity; fields alarm_id and
// state.
func appendAlarm(b []byte, site, device, alarmID, typ, severity, state string, tsMS int64) []byte {
	b = append(b, MeasurementAlarm...)
	b = appendTag(b, "device", device)
	b = appendTag(b, "severity", severity)
	b = appendTag(b, "site", site)
	b = appendTag(b, "type", typ)
	b = append(b, " alarm_id="...)
	b = appendString(b, alarmID)
	b = appendStringField(b, "state", state)
	return appendTS(b, tsMS)
}

func appendTS(b []byte, ms int64) []byte {
	b = append(b, ' ')
	b = strconv.AppendInt(b, ms, 10)
	return append(b, '\n')
}

// appendTag appends ",key=value"; an empty value is left out (line protocol has no empty tags).
func appendTag(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, '=')
	return appendKey(b, v)
}

// appendKey escapes a tag key, tag value or field key: comma, equals sign and space are
// escaped; line breaks, which line protocol cannot carry there, become spaces.
func appendKey(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '=', ' ':
			b = append(b, '\\', c)
		case '\n', '\r':
			b = append(b, '\\', ' ')
		case '\\':
			if i == len(s)-1 { // a trailing backslash would escape the separator
				b = append(b, '\\', '\\')
			} else {
				b = append(b, c)
			}
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendStringField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, '=')
	return appendString(b, v)
}

func appendFloatField(b []byte, key string, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return b
	}
	b = append(b, ',')
	b = append(b, key...)
	b = append(b, '=')
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendString appends a quoted string field value.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
