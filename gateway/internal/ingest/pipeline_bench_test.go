package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers/builtin"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
)

// newTestPipeline makes a pipeline over a fresh store with n call buttons cb-0..cb-(n-1).
func newTestPipeline(tb testing.TB, n int) (*Pipeline, *store.Store) {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(tb.TempDir(), "gw.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	devs := devices.New(st, "bench", log)
	var decl []config.Device
	for i := 0; i < n; i++ {
		decl = append(decl, config.Device{ID: fmt.Sprintf("cb-%d", i), Family: "callbutton", PasswordHash: "$7$1$AAAA$AAAA"})
	}
	if err := devs.Load(ctx, decl); err != nil {
		tb.Fatal(err)
	}
	reg, err := builtin.New()
	if err != nil {
		tb.Fatal(err)
	}
	p := New(Config{Site: "bench", MaxPayloadBytes: 64 << 10, BatchMax: 1024, QueueMax: 65536, StatusFlush: time.Minute},
		reg, devs, st, NewMetrics(prometheus.NewRegistry()), log)
	return p, st
}

// BenchmarkDurableEvents measures events/s through decode, checks and the group-committed
// SQLite writer, acknowledged only after fsync, from 200 devices publishing concurrently (as
// the embedded broker's per-client goroutines do, each waiting for its acknowledgement).
func BenchmarkDurableEvents(b *testing.B) {
	const devs = 200
	p, _ := newTestPipeline(b, devs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- p.Run(ctx) }()
	var next atomic.Int64
	payloads := make([][]byte, devs)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for d := 0; d < devs; d++ {
		wg.Add(1)
		go func(d int) {
			defer wg.Done()
			topic := fmt.Sprintf("community/bench/callbutton/cb-%d/event", d)
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				payloads[d] = fmt.Appendf(payloads[d][:0], `{"id":"e-%d","ts":%d,"type":"sos","data":{"source":"wall"}}`, i, time.Now().UnixMilli())
				ack := make(chan struct{})
				if !p.Submit(topic, payloads[d], func() { close(ack) }) {
					b.Error("pipeline closed")
					return
				}
				<-ack
			}
		}(d)
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
}
