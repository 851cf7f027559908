package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/cloud/internal/cases"
	"github.com/community-edge/edge/cloud/internal/store"
	"github.com/community-edge/edge/cloud/internal/store/storetest"
)

// BenchmarkIntake measures signed alert intake over loopback HTTP from 2,000 simulated
// gateways, 64 requests in flight; every fifth round of alarms repeats the round before (the
// idempotent path, 20 % of requests). Figures: alerts/s (all answers) and new-cases/s. SQLite runs with
// synchronous=FULL; PostgreSQL with fsync on only when PGTEST_DURABLE=1.
//
//	go test ./cloud/internal/server -run '^$' -bench Intake -benchtime 20000x
func BenchmarkIntake(b *testing.B) {
	const gateways = 2000
	for _, backend := range storetest.Backends() {
		b.Run(backend, func(b *testing.B) {
			st := env.Open(b, backend)
			ctx := context.Background()
			keys := make([][]byte, gateways)
			for i := range keys {
				keys[i] = []byte(fmt.Sprintf("%032d", i))
				if err := st.AddGateway(ctx, store.Gateway{ID: fmt.Sprintf("gw-%04d", i), Name: "bench", Key: keys[i], Created: time.Now()}); err != nil {
					b.Fatal(err)
				}
			}
			srv := New(Options{}, st, cases.NewMachine(), cases.DefaultClassifier(), time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
			hs := httptest.NewServer(srv.Handler())
			defer hs.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 128}
			defer tr.CloseIdleConnections()
			clients := make([]*api.Client, gateways)
			for i := range clients {
				clients[i] = api.NewClient(hs.URL, fmt.Sprintf("gw-%04d", i), keys[i], api.WithHTTPClient(&http.Client{Transport: tr}))
			}
			var n atomic.Int64
			b.SetParallelism(32) // 64 in flight on 2 cores
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					g := int(i % gateways)
					seq := i / gateways // one alarm per gateway per round…
					if seq%5 == 4 {
						seq-- // …but every fifth round repeats the round before: the idempotent path
					}
					a := api.Alert{AlarmID: fmt.Sprintf("alarm-%d", seq), Type: "sos", Family: "callbutton", OccurredAt: time.Now(),
						Site: "bench", GridCode: "110105001002003", Address: "1-1-101", Resident: &api.Resident{Name: "x"}}
					if _, err := clients[g].SendAlert(ctx, a); err != nil {
						b.Error(err)
						return
					}
				}
			})
			el := time.Since(start)
			b.StopTimer()
			var created int64
			if all, _ := st.Cases(ctx, store.CaseFilter{Limit: 1}); len(all) > 0 {
				created = all[0].ID // ids count up from 1
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "alerts/s")
			b.ReportMetric(float64(created)/el.Seconds(), "new-cases/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
