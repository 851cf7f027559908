package tsdb

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/drivers/builtin"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/ingest"
	"github.com/community-edge/edge/gateway/internal/store"
)

var update = flag.Bool("update", false, "rewrite golden files")

func ptr[T any](v T) *T { return &v }

// decoded decodes a native payload the way the ingest pipeline does.
func decoded(t testing.TB, topic, payload string) *drivers.Message {
	t.Helper()
	reg, err := builtin.New()
	if err != nil {
		t.Fatal(err)
	}
	m, err := reg.Decode(topic, []byte(payload))
	if err != nil {
		t.Fatalf("decode %s: %v", payload, err)
	}
	return &m
}

func TestLineProtocolGolden(t *testing.T) {
	cb := &devices.Device{ID: "cb-0001", Family: drivers.CallButton, Site: "sunny"}
	ch := &devices.Device{ID: "ch 1,x=y", Family: drivers.Charger, Site: "sunny"}
	tests := []struct {
		name string
		enc  func(b []byte) []byte
	}{
		{"callbutton telemetry", func(b []byte) []byte {
			return appendTelemetry(b, decoded(t, "community/sunny/callbutton/cb-0001/telemetry",
				`{"ts":1700000000123,"metrics":{"battery_pct":87,"rssi_dbm":-71.5}}`))
		}},
		{"locker telemetry", func(b []byte) []byte {
			return appendTelemetry(b, decoded(t, "community/sunny/locker/lk-0001/telemetry",
				`{"ts":1700000000456,"metrics":{"temperature_c":21.25,"humidity_pct":40,"occupied":12,"total":48}}`))
		}},
		{"charger telemetry with port", func(b []byte) []byte {
			return appendTelemetry(b, decoded(t, "community/sunny/charger/ch-0001/telemetry",
				`{"ts":1700000000789,"port":2,"metrics":{"power_w":1800,"voltage_v":220.5,"current_a":8.2,"temp_c":41,"energy_wh":123456789}}`))
		}},
		{"escaped tags, no storable metric is no line", func(b []byte) []byte {
			b = appendTelemetry(b, &drivers.Message{Kind: drivers.KindTelemetry, Site: "sunny", Family: drivers.Charger, Device: "ch 1,x=y",
				Telemetry: &drivers.Telemetry{TS: 5, Metrics: []drivers.Metric{{Name: "power w", Value: 1}}}})
			return appendTelemetry(b, &drivers.Message{Kind: drivers.KindTelemetry, Site: "sunny", Family: drivers.Charger, Device: "x",
				Telemetry: &drivers.Telemetry{TS: 6}})
		}},
		{"sos event", func(b []byte) []byte {
			return appendEvent(b, &ingest.Stored{Event: store.Event{DeviceID: "cb-0001", EventID: "e-1", Family: "callbutton", Type: "sos", TSMS: 1700000001000},
				Data: drivers.EventData{Source: "pull_cord"}, Device: cb})
		}},
		{"charger fault event", func(b []byte) []byte {
			return appendEvent(b, &ingest.Stored{Event: store.Event{DeviceID: "ch 1,x=y", EventID: `q"uote\`, Family: "charger", Type: "fault", TSMS: 1700000002000},
				Data: drivers.EventData{Port: ptr(1), Code: "GroundFailure", VendorCode: "E07", EnergyWh: ptr(12.5), TempC: ptr(80.0)}, Device: ch})
		}},
		{"gateway-made offline event", func(b []byte) []byte {
			return appendEvent(b, &ingest.Stored{Event: store.Event{DeviceID: "cb-0001", EventID: "gw-1", Family: "callbutton", Type: "device_offline", TSMS: 1700000003000},
				Data: drivers.EventData{Reason: "heartbeat_missed"}, Device: cb})
		}},
		{"alarm", func(b []byte) []byte {
			return appendAlarm(b, "sunny", "cb-0001", "al-42", "sos", "critical", "acknowledged", 1700000004000)
		}},
	}
	var all []byte
	for _, tc := range tests {
		all = append(all, "# "+tc.name+"\n"...)
		all = tc.enc(all)
	}
	path := filepath.Join("testdata", "lineproto.golden")
	if *update {
		if err := os.WriteFile(path, all, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(all) {
		t.Errorf("line protocol differs from %s (run with -update):\ngot:\n%s\nwant:\n%s", path, all, want)
	}
}

func TestAppendKeyTrailingBackslash(t *testing.T) {
	if got := string(appendKey(nil, `a\`)); got != `a\\` {
		t.Errorf("got %q", got)
	}
}

func BenchmarkAppendTelemetry(b *testing.B) {
	m := decoded(b, "community/sunny/charger/ch-0001/telemetry",
		`{"ts":1700000000789,"port":2,"metrics":{"power_w":1800,"voltage_v":220.5,"current_a":8.2,"temp_c":41,"energy_wh":123456789}}`)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendTelemetry(buf[:0], m)
	}
}
