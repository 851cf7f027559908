package load

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/internal/brokertest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func brokers() []struct {
	name  string
	start func(testing.TB) brokertest.Broker
} {
	return []struct {
		name  string
		start func(testing.TB) brokertest.Broker
	}{
		{"mochi", brokertest.Mochi},
		{"mosquitto", func(tb testing.TB) brokertest.Broker { return brokertest.Mosquitto(tb, nil) }},
	}
}

// TestLoadDelivers sends a fixed number of messages and checks that a subscriber gets every
// one, with the requested mix of events and telemetry.
func TestLoadDelivers(t *testing.T) {
	for _, bk := range brokers() {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.start(t)
			sub := brokertest.Subscribe(t, b, "", "", "community/load/+/+/event", "community/load/+/+/telemetry")
			g, err := New(Config{Broker: b.URL, Devices: 12, Messages: 3000, Rate: 3000, QoS: 1, EventRatio: 0.25}, quiet())
			if err != nil {
				t.Fatal(err)
			}
			rep, err := g.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Connected != 12 || rep.Sent != 3000 || rep.Acked != 3000 || rep.Errors != 0 {
				t.Fatalf("report: %s", rep)
			}
			if rep.Elapsed < 800*time.Millisecond || rep.Rate() > 3600 {
				t.Errorf("rate not held to 3000 msg/s: %s", rep)
			}
			sub.WaitCount(t, 3000, 5*time.Second)
			events := 0
			for _, m := range sub.All() {
				if strings.HasSuffix(m.Topic, "/event") {
					events++
					var ev drivers.Event
					if err := json.Unmarshal(m.Payload, &ev); err != nil || ev.ID == "" || ev.Type == "" {
						t.Fatalf("bad event %s: %v", m.Payload, err)
					}
				}
			}
			if events < 700 || events > 800 {
				t.Errorf("%d events of 3000 messages, want 750 (event ratio 0.25)", events)
			}
		})
	}
}

func TestNewReportsAllMistakes(t *testing.T) {
	_, err := New(Config{Devices: -1, Rate: -5, QoS: 2, EventRatio: 2, Families: []drivers.Family{"lamp"}, Dialect: "x"}, quiet())
	for _, want := range []string{"broker is required", "devices -1", "rate -5", "qos 2", "event ratio 2", `family "lamp"`, `dialect "x"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New error %v lacks %q", err, want)
		}
	}
}

// BenchmarkLoad measures the generator with the broker: b.N QoS 1 messages as fast as they
// are acknowledged, over 50 connections. Run: go test -run X -bench Load ./firmware-sim/load
func BenchmarkLoad(b *testing.B) {
	for _, bk := range brokers() {
		b.Run(bk.name, func(b *testing.B) {
			br := bk.start(b)
			g, err := New(Config{Broker: br.URL, Devices: 50, Messages: int64(b.N), QoS: 1, EventRatio: 0.1}, quiet())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			rep, err := g.Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			if rep.Errors > 0 || rep.Acked != int64(b.N) {
				b.Fatalf("report: %s", rep)
			}
			b.ReportMetric(rep.Rate(), "msg/s")
		})
	}
}

func TestPaceFollowsTheRate(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want time.Duration
	}{
		{0, minPace},                       // as fast as acknowledged
		{1000, minPace},                    // due every 1 ms: wake every 5 ms and send what is owed
		{11.5, 86956521 * time.Nanosecond}, // once per message due
		{1, maxPace},                       // still wakes every 100 ms
	} {
		if got := pace(tc.rate); got != tc.want {
			t.Errorf("pace(%v) = %v, want %v", tc.rate, got, tc.want)
		}
	}
}
