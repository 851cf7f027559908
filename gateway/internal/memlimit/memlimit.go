// Package memlimit keeps the Go runtime's soft memory limit close to what the gateway needs:
// once a second it sets the limit to one and a half times the live heap plus the goroutine
// stacks and a margin, never below a floor. Memory a burst took (a thousand devices
// connecting at once, a backlog after the broker came back) then goes back to the system
// once the burst is over, where the runtime alone would keep its heap goal from the burst,
// and a busy gateway always has headroom above what it holds live, so the collector never
// runs without end against the limit.
package memlimit

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Usage is what the runtime reports at one moment.
type Usage struct {
	Live   uint64 // heap the last collection found live
	Stacks uint64 // goroutine stacks
}

// Governor sets the limit once a Tick.
type Governor struct {
	floor int64
	limit int64
	read  func() Usage
	set   func(int64)
	log   *slog.Logger
}

const (
	// Tick is how often the governor looks.
	Tick = time.Second
	// the limit is headroom × live heap + stacks + marginBytes, at least the floor
	headroom    = 1.5
	marginBytes = 8 << 20
)

// New makes a governor that keeps the limit at floor bytes or above.
func New(floor int64, log *slog.Logger) *Governor {
	return &Governor{floor: floor, read: readUsage, set: func(n int64) { debug.SetMemoryLimit(n) }, log: log}
}

// Limit is the limit set now.
func (g *Governor) Limit() int64 { return g.limit }

// Run sets the limit every Tick until ctx is done.
func (g *Governor) Run(ctx context.Context) error {
	g.step(g.read())
	t := time.NewTicker(Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			g.step(g.read())
		}
	}
}

// step sets the limit for what the runtime reports now.
func (g *Governor) step(u Usage) {
	want := max(g.floor, int64(headroom*float64(u.Live))+int64(u.Stacks)+marginBytes)
	if want != g.limit {
		g.limit = want
		g.set(want)
	}
}

var usageMetrics = []string{"/gc/heap/live:bytes", "/memory/classes/heap/stacks:bytes"}

func readUsage() Usage {
	s := make([]metrics.Sample, len(usageMetrics))
	for i, name := range usageMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return Usage{Live: s[0].Value.Uint64(), Stacks: s[1].Value.Uint64()}
}
