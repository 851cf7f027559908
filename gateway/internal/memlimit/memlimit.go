// Package memlimit keeps the Go runtime's soft memory limit where the gateway needs it: at a
// floor while the gateway is quiet, so that memory a burst took (a thousand devices
// connecting at once, a backlog after the broker came back) goes back to the system, and
// raised while the collector would otherwise run several times a second, so
// that a busy gateway does not spend its CPU collecting.
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
	Cycles uint64 // garbage collections so far
	Live   uint64 // heap the last collection found live
	Stacks uint64 // goroutine stacks
}

// Governor adjusts the limit once a Tick.
type Governor struct {
	floor int64
	limit int64
	quiet int // ticks in a row with at most quietCycles collections
	busy  int // ticks in a row with busyCycles or more
	calm  int // ticks left in which collections follow from lowering the limit, not from work
	last  uint64
	read  func() Usage
	set   func(int64)
	log   *slog.Logger
}

const (
	// Tick is how often the governor looks.
	Tick = time.Second
	// busyCycles collections a tick for busyTicks ticks in a row raise the limit to twice
	// the live heap (the runtime's default pace) plus the stacks and overheadBytes;
	busyCycles    = 3
	busyTicks     = 2
	overheadBytes = 16 << 20
	// after quietTicks with at most quietCycles collections each it steps half way down to
	// the floor, and the collections that step causes in the next calmTicks do not count.
	quietCycles = 1
	quietTicks  = 5
	calmTicks   = 3
)

// New makes a governor that keeps the limit at floor bytes or above.
func New(floor int64, log *slog.Logger) *Governor {
	return &Governor{floor: floor, limit: floor, read: readUsage, set: func(n int64) { debug.SetMemoryLimit(n) }, log: log}
}

// Limit is the limit set now.
func (g *Governor) Limit() int64 { return g.limit }

// Run sets the floor and adjusts the limit every Tick until ctx is done, then removes it.
func (g *Governor) Run(ctx context.Context) error {
	g.set(g.limit)
	g.last = g.read().Cycles
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

// step is one adjustment, given what the runtime reports now.
func (g *Governor) step(u Usage) {
	n := u.Cycles - g.last
	g.last = u.Cycles
	if g.calm > 0 {
		g.calm--
		g.quiet, g.busy = 0, 0
		return
	}
	switch {
	case n >= busyCycles:
		g.quiet = 0
		g.busy++
		want := int64(2*u.Live + u.Stacks + overheadBytes)
		if g.busy >= busyTicks && want > g.limit {
			g.log.Debug("memory limit raised: the collector is busy", "collections", n, "limit_mib", want>>20)
			g.limit = want
			g.set(want)
		}
	case n <= quietCycles:
		g.busy = 0
		g.quiet++
		if g.quiet >= quietTicks && g.limit > g.floor {
			g.quiet = 0
			g.calm = calmTicks
			g.limit = max(g.floor, g.limit-(g.limit-g.floor)/2-(1<<20))
			g.set(g.limit)
		}
	default:
		g.quiet, g.busy = 0, 0
	}
}

var usageMetrics = []string{"/gc/cycles/total:gc-cycles", "/gc/heap/live:bytes", "/memory/classes/heap/stacks:bytes"}

func readUsage() Usage {
	s := make([]metrics.Sample, len(usageMetrics))
	for i, name := range usageMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return Usage{Cycles: s[0].Value.Uint64(), Live: s[1].Value.Uint64(), Stacks: s[2].Value.Uint64()}
}
