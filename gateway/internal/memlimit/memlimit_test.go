package memlimit

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
)

const mib = 1 << 20

// TestGovernorFollowsTheCollector walks the governor through a quiet start, a burst and the
// quiet after it, on made-up runtime readings.
func TestGovernorFollowsTheCollector(t *testing.T) {
	var set []int64
	g := &Governor{floor: 44 * mib, limit: 44 * mib, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		set: func(n int64) { set = append(set, n) }}
	cycles := uint64(0)
	for _, tc := range []struct {
		name        string
		collections int
		live        uint64
		ticks       int
		want        int64
	}{
		{"quiet at the floor stays", 0, 10 * mib, 20, 44 * mib},
		{"one collection a second is quiet", 1, 20 * mib, 5, 44 * mib},
		{"two a second are neither", 2, 20 * mib, 20, 44 * mib},
		{"one busy second is not enough", 3, 40 * mib, 1, 44 * mib},
		{"a busy collector raises it to twice the live heap and the stacks", 3, 40 * mib, 1, (80 + 20 + 16) * mib},
		{"busy with less live keeps the higher limit", 4, 20 * mib, 2, 116 * mib},
		{"collecting twice a second: no change", 2, 30 * mib, 12, 116 * mib},
		{"quiet for a while: half way down", 0, 30 * mib, quietTicks, 116*mib - 36*mib - mib},
		{"the collections the step causes are not work", 4, 30 * mib, calmTicks, 79 * mib},
		{"quiet long: back at the floor", 0, 10 * mib, 10 * (quietTicks + calmTicks), 44 * mib},
	} {
		for i := 0; i < tc.ticks; i++ {
			cycles += uint64(tc.collections)
			g.step(Usage{Cycles: cycles, Live: tc.live, Stacks: 20 * mib})
		}
		if g.Limit() != tc.want {
			t.Fatalf("%s: limit %d MiB, want %d MiB", tc.name, g.Limit()/mib, tc.want/mib)
		}
	}
	if len(set) == 0 || set[len(set)-1] != 44*mib {
		t.Fatalf("limits set: %v", set)
	}
}

// TestReadUsage reads the real runtime (the live heap is known after a collection).
func TestReadUsage(t *testing.T) {
	runtime.GC()
	u := readUsage()
	if u.Stacks == 0 || u.Live == 0 {
		t.Fatalf("runtime usage %+v: not read", u)
	}
}
