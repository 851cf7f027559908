package payload

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/community-edge/edge/drivers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func ptr[T any](v T) *T { return &v }

// TestGolden encodes one message of each kind in both dialects and compares topic and payload
// with testdata/<name>.golden.
func TestGolden(t *testing.T) {
	ms, err := NewModels(BuiltinModels()...)
	if err != nil {
		t.Fatal(err)
	}
	cb := Device{Site: "demo", Family: drivers.CallButton, ID: "cb-0001"}
	ch := Device{Site: "demo", Family: drivers.Charger, ID: "ch-0001"}
	lk := Device{Site: "demo", Family: drivers.Locker, ID: "lk-0001"}
	const ts = 1767225600000
	enc := func(dialect string, d Device) Encoder {
		m, _ := ms.ForFamily(d.Family)
		e, err := NewEncoder(dialect, d, 0xcafe0001, m)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	event := func(e Encoder, typ string, data drivers.EventData) Message {
		m, _, err := e.Event(ts, typ, data)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	telemetry := func(e Encoder, tm drivers.Telemetry) Message {
		m, err := e.Telemetry(tm, 0)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cbTelemetry := drivers.Telemetry{TS: ts, Metrics: []drivers.Metric{{Name: "battery_pct", Value: 87.5}, {Name: "rssi_dbm", Value: -71}}}
	chTelemetry := drivers.Telemetry{TS: ts, Port: ptr(2), Metrics: []drivers.Metric{{Name: "power_w", Value: 312.4},
		{Name: "voltage_v", Value: 221.3}, {Name: "current_a", Value: 1.41}, {Name: "temp_c", Value: 41.2}, {Name: "energy_wh", Value: 1234.5}}}
	tests := []struct {
		name string
		msg  Message
	}{
		{"status", Status(cb, "fwsim-1.0", ts)},
		{"will", Offline(cb)},
		{"ack-ok", Ack(cb, drivers.CmdAck{ID: "c1", OK: true})},
		{"ack-error", Ack(cb, drivers.CmdAck{ID: "c2", Error: `sim: unknown command "x"`})},
		{"native-telemetry-callbutton", telemetry(enc("native", cb), cbTelemetry)},
		{"native-telemetry-charger", telemetry(enc("native", ch), chTelemetry)},
		{"native-event-sos", event(enc("native", cb), "sos", drivers.EventData{Source: "pendant"})},
		{"native-event-parcel", event(enc("native", lk), "parcel_deposited", drivers.EventData{Compartment: "A07", Parcel: "SF0000000042", Resident: "R-10203"})},
		{"native-event-fault", event(enc("native", ch), "fault", drivers.EventData{Port: ptr(1), Code: "HighTemperature", VendorCode: "E07"})},
		{"alink-property-callbutton", telemetry(enc("alink", cb), cbTelemetry)},
		{"alink-property-charger", telemetry(enc("alink", ch), chTelemetry)},
		{"alink-event-sos", event(enc("alink", cb), "sos", drivers.EventData{Source: "pull_cord"})},
		{"alink-event-session-stopped", event(enc("alink", ch), "session_stopped", drivers.EventData{Port: ptr(1), Session: "s-1", EnergyWh: ptr(812.3)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			buf.WriteString(tt.msg.Topic + "\n")
			if err := json.Indent(&buf, tt.msg.Payload, "", "  "); err != nil {
				t.Fatalf("payload is not JSON: %s", tt.msg.Payload)
			}
			buf.WriteString("\n")
			path := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, buf.Bytes(), want)
			}
		})
	}
}

// TestEventIDsUnique checks that ids differ between events and between boots.
func TestEventIDsUnique(t *testing.T) {
	dev := Device{Site: "s", Family: drivers.CallButton, ID: "cb"}
	ms, _ := NewModels(BuiltinModels()...)
	m, _ := ms.ForFamily(drivers.CallButton)
	for _, dialect := range Dialects() {
		seen := map[string]bool{}
		for _, boot := range []uint32{1, 2} {
			e, _ := NewEncoder(dialect, dev, boot, m)
			for range 100 {
				_, id, err := e.Event(1, "fall", drivers.EventData{})
				if err != nil || seen[id] {
					t.Fatalf("%s: id %q repeated or error %v", dialect, id, err)
				}
				seen[id] = true
			}
		}
	}
}

func TestEncoderErrors(t *testing.T) {
	ms, _ := NewModels(BuiltinModels()...)
	m, _ := ms.ForFamily(drivers.Locker)
	lk := Device{Site: "s", Family: drivers.Locker, ID: "lk"}
	if _, err := NewEncoder("alink", lk, 1, nil); err == nil {
		t.Error("alink without model: no error")
	}
	if _, err := NewEncoder("coap", lk, 1, m); err == nil {
		t.Error("unknown dialect: no error")
	}
	e, _ := NewEncoder("alink", lk, 1, m)
	if _, _, err := e.Event(1, "smoke", drivers.EventData{}); err == nil {
		t.Error("event the product lacks: no error")
	}
	if _, err := e.Telemetry(drivers.Telemetry{Metrics: []drivers.Metric{{Name: "power_w"}}}, 0); err == nil {
		t.Error("metric the product lacks: no error")
	}
	if _, err := NewModels(BuiltinModels()[0], BuiltinModels()[0], &drivers.AlinkModel{ProductKey: "x", Family: "lamp"}); err == nil {
		t.Error("duplicate product and bad family: no error")
	}
}

func TestLoadModels(t *testing.T) {
	ms, err := LoadModels("testdata/models")
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ms.ForFamily(drivers.CallButton)
	if !ok || m.ProductKey() != "a1TestBtn" {
		t.Fatalf("ForFamily(callbutton) = %v, %v", m, ok)
	}
	if id, scale, ok := m.PropertyOf("battery_pct"); !ok || id != "Battery" || scale != 0.1 {
		t.Errorf("PropertyOf(battery_pct) = %q %v %v", id, scale, ok)
	}
	c, _ := ms.ForFamily(drivers.Charger)
	if id, _, ok := c.PropertyOf("port"); !ok || id != "GunNo" {
		t.Errorf("charger port property = %q %v, want GunNo from port_property", id, ok)
	}
	if _, err := LoadModels("testdata/badmodels"); err == nil {
		t.Error("LoadModels(badmodels): no error for an unknown key")
	}
}
