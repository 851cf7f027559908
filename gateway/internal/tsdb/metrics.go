package tsdb

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the writer's Prometheus metrics.
type metrics struct {
	accepted  *prometheus.CounterVec
	written   *prometheus.CounterVec
	replayed  *prometheus.CounterVec
	dropped   *prometheus.CounterVec
	diskBytes *prometheus.GaugeVec
	corrupt   *prometheus.CounterVec
	errors    *prometheus.CounterVec
	up        prometheus.Gauge
	latency   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_points_spooled_total",
			Help: "Points appended to the durable spool (a telemetry message is acknowledged once its point is there)."}, []string{"spool"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_points_written_total",
			Help: "Points InfluxDB accepted."}, []string{"spool"}),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_points_replayed_total",
			Help: "Points InfluxDB accepted from the backlog kept while it was away (part of written)."}, []string{"spool"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_points_dropped_total",
			Help: "Points given up on, by reason: spool_full, too_old (telemetry only), rejected (InfluxDB called them malformed), memory_full (events only, disk stalled)."}, []string{"spool", "reason"}),
		diskBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gateway_tsdb_spool_disk_bytes",
			Help: "Bytes of spool segment files on disk."}, []string{"spool"}),
		corrupt: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_spool_corrupt_records_total",
			Help: "Spool records found torn or failing their CRC, skipped with the rest of their segment."}, []string{"spool"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_tsdb_write_errors_total",
			Help: "Failed writes to InfluxDB, by kind: unavailable (network, timeout, 5xx), throttled (429), refused (401, 403, 404), rejected (other 4xx)."}, []string{"kind"}),
		up: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_tsdb_influx_up",
			Help: "1 when the last write to InfluxDB succeeded, 0 while the gateway is spooling."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_tsdb_write_seconds",
			Help: "Time of one batch write to InfluxDB.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)}),
	}
	reg.MustRegister(m.accepted, m.written, m.replayed, m.dropped, m.diskBytes, m.corrupt, m.errors, m.up, m.latency)
	return m
}

// spoolMetrics are the metrics of one spool, labels bound.
type spoolMetrics struct {
	name      string
	all       *metrics
	accepted  prometheus.Counter
	written   prometheus.Counter
	replayed  prometheus.Counter
	diskBytes prometheus.Gauge
	corrupt   prometheus.Counter
}

func (m *metrics) forSpool(name string) *spoolMetrics {
	return &spoolMetrics{name: name, all: m, accepted: m.accepted.WithLabelValues(name), written: m.written.WithLabelValues(name),
		replayed: m.replayed.WithLabelValues(name), diskBytes: m.diskBytes.WithLabelValues(name), corrupt: m.corrupt.WithLabelValues(name)}
}

func (m *spoolMetrics) dropped(reason string) prometheus.Counter {
	return m.all.dropped.WithLabelValues(m.name, reason)
}

// spoolCollector exports what a scrape must compute: bytes not yet sent and the age of the
// oldest point not yet sent.
type spoolCollector struct {
	w     *Writer
	bytes *prometheus.Desc
	age   *prometheus.Desc
}

func newSpoolCollector(w *Writer) *spoolCollector {
	return &spoolCollector{w: w,
		bytes: prometheus.NewDesc("gateway_tsdb_spool_bytes", "Bytes in the spool not yet in InfluxDB.", []string{"spool"}, nil),
		age: prometheus.NewDesc("gateway_tsdb_spool_oldest_point_age_seconds",
			"Age of the oldest point in the spool not yet in InfluxDB (0: none).", []string{"spool"}, nil)}
}

func (c *spoolCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.bytes; ch <- c.age }

func (c *spoolCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sp := range c.w.openSpools() {
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(sp.UnsentBytes()), sp.cfg.Name)
		age := 0.0
		if ms, ok := sp.oldestUnsentMS(); ok {
			age = max(0, time.Since(time.UnixMilli(ms)).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age, sp.cfg.Name)
	}
}
