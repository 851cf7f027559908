package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/community-edge/edge/drivers"
)

const topicEvent = "community/bench/callbutton/cb-0/event"

func sos(id string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"ts":%d,"type":"sos","data":{"source":"wall"}}`, id, time.Now().UnixMilli()))
}

func TestRejectionsAreCountedByReasonAndAcked(t *testing.T) {
	p, _ := newTestPipeline(t, 2)
	for _, tc := range []struct {
		name, topic, payload string
		reason               drivers.Reason
	}{
		{"oversize", topicEvent, `{"id":"x","pad":"` + strings.Repeat("a", 70<<10) + `"}`, drivers.ReasonOversize},
		{"malformed", topicEvent, `{"id":`, drivers.ReasonMalformed},
		{"unknown device", "community/bench/callbutton/cb-99/event", string(sos("u1")), drivers.ReasonUnknownDevice},
		{"wrong family", "community/bench/locker/cb-0/event", `{"id":"w","ts":1,"type":"door_opened","data":{"compartment":"A"}}`, drivers.ReasonWrongFamily},
		{"other site", "community/elsewhere/callbutton/cb-0/event", string(sos("s1")), drivers.ReasonBadTopic},
		{"bad topic", "community/bench/callbutton", string(sos("t1")), drivers.ReasonBadTopic},
		{"unknown type", topicEvent, `{"id":"k","ts":1,"type":"explode","data":{}}`, drivers.ReasonUnknownType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := counter(p.m.rejected(tc.reason))
			var acked atomic.Bool
			if !p.Submit(tc.topic, []byte(tc.payload), func() { acked.Store(true) }) {
				t.Fatal("not taken")
			}
			if !acked.Load() {
				t.Fatal("a rejected message must be acknowledged at once, or the broker sends it for ever")
			}
			if got := counter(p.m.rejected(tc.reason)) - before; got != 1 {
				t.Fatalf("rejected{%s} grew by %v", tc.reason, got)
			}
			if p.QueueLen() != 0 {
				t.Fatal("a rejected message was queued")
			}
		})
	}
}

func TestEventsStoredOnceAckedAfterCommitAndDrainedOnClose(t *testing.T) {
	p, st := newTestPipeline(t, 2)
	// queued before Run: nothing is acknowledged until the writer has stored it
	var acks atomic.Int32
	for _, id := range []string{"a", "b", "a", "c", "b"} { // repeats inside one batch
		p.Submit(topicEvent, sos(id), func() { acks.Add(1) })
	}
	if acks.Load() != 0 {
		t.Fatal("acknowledged before stored")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for acks.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for _, id := range []string{"a", "b", "c"} {
		if n, _ := st.CountEvents(context.Background(), "cb-0", id); n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	if d := counter(p.m.duplicates); d != 2 {
		t.Fatalf("duplicates counted %v, want 2", d)
	}
	// every device event is acknowledged once, duplicates too (the gateway's own online event is not a message)
	if a := counter(p.m.acknowledged); a != 5 {
		t.Fatalf("acknowledged counted %v, want 5", a)
	}
	// the device came online with its first event
	if n, _ := st.CountEvents(context.Background(), "cb-0", ""); n != 4 {
		t.Fatalf("want 3 events and 1 device_online, got %d rows", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Submit(topicEvent, sos("late"), func() { t.Error("acked after close") }) {
		t.Fatal("a closed pipeline took a message: the broker must keep it")
	}
}

func TestTelemetryUpdatesHealthWithoutTheStore(t *testing.T) {
	p, _ := newTestPipeline(t, 1)
	var acked atomic.Bool
	p.Submit("community/bench/callbutton/cb-0/telemetry", []byte(`{"ts":1,"metrics":{"battery_pct":42,"rssi_dbm":-80}}`), func() { acked.Store(true) })
	if !acked.Load() {
		t.Fatal("telemetry without a sink is acknowledged once the device's health is updated")
	}
	d, _ := p.devs.Lookup("cb-0")
	h := d.Health()
	if h.BatteryPct == nil || *h.BatteryPct != 42 || h.RSSI == nil || *h.RSSI != -80 || h.LastSeen == 0 {
		t.Fatalf("health %+v", h)
	}
	if p.QueueLen() != 1 {
		t.Fatalf("a device heard from while not online gets one device_online queued, got %d", p.QueueLen())
	}
}

func counter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
