package subscriber

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// message is a received MQTT message as paho hands it over.
type message struct {
	topic   string
	payload []byte
	acked   bool
}

func (m *message) Duplicate() bool   { return false }
func (m *message) Qos() byte         { return 1 }
func (m *message) Retained() bool    { return false }
func (m *message) Topic() string     { return m.topic }
func (m *message) MessageID() uint16 { return 1 }
func (m *message) Payload() []byte   { return m.payload }
func (m *message) Ack()              { m.acked = true }

type sink struct{ topics []string }

func (s *sink) Submit(topic string, _ []byte, ack func()) bool {
	s.topics = append(s.topics, topic)
	ack()
	return true
}

// TestHandleSortsBrokerCountersFromDeviceMessages: with no per-subscription callbacks, the one
// handler gets everything: the broker's $SYS drop counters set the gauge and are acknowledged;
// device messages go to the pipeline.
func TestHandleSortsBrokerCountersFromDeviceMessages(t *testing.T) {
	var got sink
	s := New(Config{Site: "s1"}, &got, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, tc := range []struct {
		topic, payload string
		wantSink       bool
		wantDropped    float64
	}{
		{"$SYS/broker/publish/messages/dropped", "7", false, 7},
		{"community/s1/callbutton/cb-1/event", `{"id":"e1"}`, true, 7},
		{"$SYS/broker/messages/dropped", " 12\n", false, 12},
		{"$SYS/broker/messages/dropped", "not a number", false, 12},
	} {
		n := len(got.topics)
		m := &message{topic: tc.topic, payload: []byte(tc.payload)}
		s.handle(nil, m)
		if !m.acked {
			t.Errorf("%s: not acknowledged", tc.topic)
		}
		if (len(got.topics) > n) != tc.wantSink {
			t.Errorf("%s: reached the pipeline %v, want %v", tc.topic, len(got.topics) > n, tc.wantSink)
		}
		var g dto.Metric
		s.brokerDropped.Write(&g)
		if v := g.GetGauge().GetValue(); v != tc.wantDropped {
			t.Errorf("%s: broker reported dropped %v, want %v", tc.topic, v, tc.wantDropped)
		}
	}
}
