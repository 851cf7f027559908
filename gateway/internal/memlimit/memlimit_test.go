package memlimit

import (
	"io"
	"log/slog"
	"runtime"
	"testing"
)

const mib = 1 << 20

// TestGovernorFollowsTheLiveHeap walks the governor through a quiet site, a burst and the
// quiet after it, on made-up runtime readings.
func TestGovernorFollowsTheLiveHeap(t *testing.T) {
	var set []int64
	g := &Governor{floor: 44 * mib, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		set: func(n int64) { set = append(set, n) }}
	for _, tc := range []struct {
		name         string
		live, stacks uint64
		want         int64
	}{
		{"a quiet site sits at the floor", 10 * mib, 20 * mib, 44 * mib},
		{"a burst raises it above the live heap and the stacks", 60 * mib, 40 * mib, (90 + 40 + 8) * mib},
		{"after the burst it comes down", 16 * mib, 23 * mib, (24 + 23 + 8) * mib},
		{"and back to the floor", 8 * mib, 20 * mib, 44 * mib},
	} {
		g.step(Usage{Live: tc.live, Stacks: tc.stacks})
		if g.Limit() != tc.want {
			t.Fatalf("%s: limit %d MiB, want %d MiB", tc.name, g.Limit()/mib, tc.want/mib)
		}
	}
	if len(set) != 4 || set[3] != 44*mib {
		t.Fatalf("limits set: %v", set)
	}
	g.step(Usage{Live: 8 * mib, Stacks: 20 * mib})
	if len(set) != 4 {
		t.Fatalf("an unchanged limit was set again: %v", set)
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
