package sim

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/internal/brokertest"
	"github.com/community-edge/edge/firmware-sim/scenario"
)

const testScenario = `
name: integration
heartbeat: 300ms
fleet: {callbutton: 1, charger: 1}
devices:
  - {id: cb-alink, family: callbutton, dialect: alink}
steps:
  - {at: 1s, device: cb-0001, event: sos, data: {source: pendant}}
  - {at: 1500ms, device: cb-0001, action: disconnect_hard}
  - {at: 2500ms, device: cb-0001, action: reconnect}
`

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func startFleet(t *testing.T, b brokertest.Broker, sc string, creds credentials.Source) (*Fleet, time.Time, func()) {
	t.Helper()
	s, err := scenario.Parse([]byte(sc))
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFleet(FleetConfig{Broker: b.URL, Site: "test", Scenario: s, Credentials: creds,
		Backoff: Backoff{Min: 100 * time.Millisecond, Max: time.Second}, Seed: 7, FW: "test-fw"}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	start := time.Now()
	go func() {
		defer close(done)
		runErr = f.Run(ctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("fleet.Run: %v", runErr)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("fleet did not stop within 10 s")
		}
	}
	t.Cleanup(func() { cancel(); <-done })
	return f, start, stop
}

func topic(dev string, f drivers.Family, ch drivers.Channel) string {
	return drivers.NativeTopic("test", f, dev, ch)
}

func status(m brokertest.Msg) drivers.Status {
	var s drivers.Status
	_ = json.Unmarshal(m.Payload, &s)
	return s
}

func TestFleetAgainstBrokers(t *testing.T) {
	brokers := []struct {
		name  string
		start func(testing.TB) brokertest.Broker
	}{
		{"mochi", brokertest.Mochi},
		{"mosquitto", func(tb testing.TB) brokertest.Broker { return brokertest.Mosquitto(tb, nil) }},
	}
	for _, bk := range brokers {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.start(t)
			sub := brokertest.Subscribe(t, b, "", "", "community/#", "/sys/#")
			_, start, stop := startFleet(t, b, testScenario, credentials.Shared("demo"))
			since := func(m brokertest.Msg) time.Duration { return m.At.Sub(start) }
			cbStatus := topic("cb-0001", drivers.CallButton, drivers.ChanStatus)

			online := sub.WaitFor(t, "online status", 5*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == cbStatus && status(m).State == drivers.Online
			})
			if s := status(online); s.FW != "test-fw" || s.TS == 0 {
				t.Errorf("online status %s: want fw test-fw and a ts", online.Payload)
			}
			late := brokertest.Subscribe(t, b, "", "", cbStatus)
			late.WaitFor(t, "retained online status", 2*time.Second, func(m brokertest.Msg) bool {
				return m.Retained && status(m).State == drivers.Online
			})

			sub.WaitFor(t, "call button telemetry", 3*time.Second, func(m brokertest.Msg) bool {
				var tm struct{ Metrics map[string]float64 }
				return m.Topic == topic("cb-0001", drivers.CallButton, drivers.ChanTelemetry) &&
					json.Unmarshal(m.Payload, &tm) == nil && tm.Metrics["battery_pct"] > 0 && tm.Metrics["rssi_dbm"] < 0
			})
			for _, port := range []int{1, 2} {
				sub.WaitFor(t, "charger telemetry per port", 3*time.Second, func(m brokertest.Msg) bool {
					var tm struct {
						Port    int
						Metrics map[string]float64
					}
					return m.Topic == topic("ch-0001", drivers.Charger, drivers.ChanTelemetry) &&
						json.Unmarshal(m.Payload, &tm) == nil && tm.Port == port && tm.Metrics["voltage_v"] > 200
				})
			}
			sub.WaitFor(t, "alink property post", 3*time.Second, func(m brokertest.Msg) bool {
				var p struct {
					Method string
					Params map[string]float64
				}
				return m.Topic == drivers.AlinkPropertyTopic("a1SimCallBtn", "cb-alink") &&
					json.Unmarshal(m.Payload, &p) == nil && p.Method == "thing.event.property.post" && p.Params["BatteryPercentage"] > 0
			})

			sos := sub.WaitFor(t, "scenario sos event", 3*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == topic("cb-0001", drivers.CallButton, drivers.ChanEvent) && strings.Contains(string(m.Payload), `"sos"`)
			})
			var ev drivers.Event
			if err := json.Unmarshal(sos.Payload, &ev); err != nil || ev.ID == "" || ev.Data.Source != "pendant" {
				t.Errorf("sos event %s: %v", sos.Payload, err)
			}
			if d := since(sos); d < 900*time.Millisecond || d > 1800*time.Millisecond {
				t.Errorf("sos arrived %s after start, want about 1 s", d)
			}

			will := sub.WaitFor(t, "last will after hard disconnect", 4*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == cbStatus && status(m).State == drivers.Offline
			})
			if d := since(will); d < 1400*time.Millisecond || d > 2500*time.Millisecond {
				t.Errorf("will arrived %s after start, want between the hard disconnect (1.5 s) and the reconnect (2.5 s)", d)
			}
			sub.WaitFor(t, "online again after reconnect", 4*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == cbStatus && status(m).State == drivers.Online && since(m) > 2400*time.Millisecond
			})

			chAck := topic("ch-0001", drivers.Charger, drivers.ChanCmdAck)
			cmdTopic := drivers.NativeTopic("test", drivers.Charger, "ch-0001", drivers.ChanCmd)
			for _, c := range []struct {
				cmd   string
				ok    bool
				error string
			}{
				{`{"id":"c1","ts":1,"name":"ping"}`, true, ""},
				{`{"id":"c2","ts":1,"name":"explode"}`, false, `unknown command "explode"`},
				{`{"id":"c3","ts":1,"name":"start_session","args":{"port":1}}`, true, ""},
				{`{"id":"c4","ts":1,"name":"start_session","args":{"port":9}}`, false, "port 9 out of range"},
			} {
				var cmd drivers.Command
				_ = json.Unmarshal([]byte(c.cmd), &cmd)
				sub.Publish(t, cmdTopic, []byte(c.cmd))
				m := sub.WaitFor(t, "cmd_ack "+cmd.ID, 3*time.Second, func(m brokertest.Msg) bool {
					return m.Topic == chAck && strings.Contains(string(m.Payload), `"`+cmd.ID+`"`)
				})
				var ack drivers.CmdAck
				if err := json.Unmarshal(m.Payload, &ack); err != nil || ack.OK != c.ok || !strings.Contains(ack.Error, c.error) {
					t.Errorf("ack of %s: %s, want ok=%v error containing %q", cmd.Name, m.Payload, c.ok, c.error)
				}
			}
			sub.WaitFor(t, "session_started after start_session", 3*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == topic("ch-0001", drivers.Charger, drivers.ChanEvent) && strings.Contains(string(m.Payload), `"session_started"`)
			})

			stopAt := time.Now()
			stop()
			sub.WaitFor(t, "offline status at clean shutdown", 3*time.Second, func(m brokertest.Msg) bool {
				return m.Topic == topic("ch-0001", drivers.Charger, drivers.ChanStatus) && status(m).State == drivers.Offline && m.At.After(stopAt)
			})
		})
	}
}

func TestMosquittoPerDevicePasswords(t *testing.T) {
	b := brokertest.Mosquitto(t, map[string]string{"cb-0001": "right-1", "cb-0002": "right-2", "watcher": "w"})
	sub := brokertest.Subscribe(t, b, "watcher", "w", "community/#")
	creds := credentials.Table{"cb-0001": "right-1", "cb-0002": "wrong"}
	_, _, stop := startFleet(t, b, "heartbeat: 300ms\nfleet: {callbutton: 2}\n", creds)
	sub.WaitFor(t, "online status of the device with the right password", 5*time.Second, func(m brokertest.Msg) bool {
		return m.Topic == topic("cb-0001", drivers.CallButton, drivers.ChanStatus) && status(m).State == drivers.Online
	})
	sub.WaitFor(t, "telemetry of the device with the right password", 3*time.Second, func(m brokertest.Msg) bool {
		return m.Topic == topic("cb-0001", drivers.CallButton, drivers.ChanTelemetry)
	})
	stop()
	for _, m := range sub.All() {
		if strings.Contains(m.Topic, "/cb-0002/") {
			t.Errorf("device with a wrong password got a message through: %s %s", m.Topic, m.Payload)
		}
	}
}

func TestFleetReportsAllMistakes(t *testing.T) {
	s, err := scenario.Parse([]byte("fleet: {callbutton: 2}\ndevices: [{id: x, family: locker, dialect: alink, product_key: nope}]\nsteps: [{at: 1s, device: cb-0002, action: go_silent}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFleet(FleetConfig{Broker: "tcp://127.0.0.1:1", Site: "s", Scenario: s, Credentials: credentials.Table{"cb-0001": "p"},
		Counts: &scenario.Counts{CallButton: 1}}, testLogger(t))
	for _, want := range []string{`no password for device "x"`, `no alink product model for locker "nope"`, `device "cb-0002" is not in the fleet`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewFleet error %v lacks %q", err, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second}
	tests := []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 50 * time.Millisecond},
		{1, 0.999999, 100 * time.Millisecond},
		{3, 0, 200 * time.Millisecond},
		{3, 0.5, 300 * time.Millisecond},
		{10, 0, time.Second},
		{100, 0.999999, 2 * time.Second},
	}
	for _, tt := range tests {
		got := b.Delay(tt.n, tt.jitter)
		if got < tt.want-time.Millisecond || got > tt.want+time.Millisecond {
			t.Errorf("Delay(%d, %v) = %s, want %s", tt.n, tt.jitter, got, tt.want)
		}
	}
}
