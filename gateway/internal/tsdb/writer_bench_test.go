package tsdb

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWriterTelemetry is the gateway's cost per telemetry message on the time series
// path: encode, spool, acknowledge, read back and send (to a server that only reads).
func BenchmarkWriterTelemetry(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	r := startWriter(b, srv.URL, b.TempDir(), func(c *Config) { c.BatchSize = 5000; c.FlushInterval = 10 * time.Millisecond })
	defer r.stop()
	m := decoded(b, "community/sunny/charger/ch-0001/telemetry",
		`{"ts":1700000000789,"port":2,"metrics":{"power_w":1800,"voltage_v":220.5,"current_a":8.2,"temp_c":41,"energy_wh":123456789}}`)
	var acked atomic.Int64
	ack := func() { acked.Add(1) }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Telemetry.TS++
		r.w.Telemetry(m, 0, ack)
	}
	for acked.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	for r.metric("gateway_tsdb_points_written_total") < float64(b.N) {
		time.Sleep(time.Millisecond)
	}
}
