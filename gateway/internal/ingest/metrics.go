package ingest

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers"
)

// Metrics are the ingest path's Prometheus metrics.
type Metrics struct {
	messages       map[drivers.Kind]prometheus.Counter
	rejectedVec    *prometheus.CounterVec
	rejectedBy     map[drivers.Reason]prometheus.Counter
	decode         prometheus.Histogram
	stored         prometheus.Counter
	duplicates     prometheus.Counter
	acknowledged   prometheus.Counter
	commitSeconds  prometheus.Histogram
	batchSize      prometheus.Histogram
	commitErrors   prometheus.Counter
	queueFullWaits prometheus.Counter
}

// NewMetrics makes the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_mqtt_messages_total",
		Help: "Device messages accepted, by kind."}, []string{"kind"})
	m := &Metrics{
		messages: map[drivers.Kind]prometheus.Counter{},
		rejectedVec: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_mqtt_rejected_total",
			Help: "Device messages rejected, by reason."}, []string{"reason"}),
		rejectedBy: map[drivers.Reason]prometheus.Counter{},
		decode: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_decode_seconds",
			Help: "Time to decode one device message.", Buckets: []float64{1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 1e-3}}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_events_stored_total",
			Help: "Events durably stored (duplicates excluded)."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_events_duplicate_total",
			Help: "Events recognised as duplicates (QoS 1 redelivery or repeated id) and stored once."}),
		acknowledged: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_events_acknowledged_total",
			Help: "Device events acknowledged to the broker, each once the transaction holding it committed (duplicates included)."}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_store_commit_seconds",
			Help: "Time to store one batch, fsync included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12)}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_store_batch_events",
			Help: "Messages per store transaction.", Buckets: prometheus.ExponentialBuckets(1, 4, 7)}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_store_commit_errors_total",
			Help: "Store transactions that failed and were retried."}),
		queueFullWaits: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ingest_queue_full_total",
			Help: "Times intake waited because the event queue was full."}),
	}
	for _, k := range []drivers.Kind{drivers.KindEvent, drivers.KindTelemetry, drivers.KindStatus, drivers.KindCmdAck} {
		m.messages[k] = msgs.WithLabelValues(k.String())
	}
	for _, r := range append(drivers.Reasons(), ReasonACLDenied, ReasonAuthFailed) {
		m.rejectedBy[r] = m.rejectedVec.WithLabelValues(string(r))
	}
	reg.MustRegister(msgs, m.rejectedVec, m.decode, m.stored, m.duplicates, m.acknowledged, m.commitSeconds, m.batchSize, m.commitErrors, m.queueFullWaits)
	return m
}

// Rejections counted by the broker rather than the decoder.
const (
	ReasonACLDenied  drivers.Reason = "acl_denied"  // a client published or subscribed outside its topics
	ReasonAuthFailed drivers.Reason = "auth_failed" // wrong password or unknown username
)

func (m *Metrics) rejected(r drivers.Reason) prometheus.Counter {
	if c, ok := m.rejectedBy[r]; ok {
		return c
	}
	return m.rejectedVec.WithLabelValues(string(r))
}

// Rejected counts a message refused outside the decoder (by the broker's checks).
func (m *Metrics) Rejected(r drivers.Reason) { m.rejected(r).Inc() }
