package devices

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
)

// TestOverdueAfterThreeMissedHeartbeats checks the heartbeat timer on an injected clock: a
// device is overdue only after three of its intervals without telemetry, counted from no
// earlier than the gateway's start, and only while it is online.
func TestOverdueAfterThreeMissedHeartbeats(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := New(st, "s", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := r.Load(ctx, []config.Device{
		{ID: "fast", Family: "callbutton", HeartbeatInterval: 10 * time.Second},
		{ID: "slow", Family: "locker", HeartbeatInterval: time.Minute},
		{ID: "never", Family: "charger", HeartbeatInterval: 10 * time.Second},
	}); err != nil {
		t.Fatal(err)
	}
	t0 := time.UnixMilli(1_800_000_000_000)
	start := t0
	for _, id := range []string{"fast", "slow"} {
		d, _ := r.Lookup(id)
		d.SetState(string(drivers.Online), t0.UnixMilli(), "")
	}
	ids := func(at time.Time, since time.Time) []string {
		var out []string
		for _, d := range r.Overdue(at, since) {
			out = append(out, d.ID)
		}
		return out
	}
	for _, tc := range []struct {
		after time.Duration
		want  []string
	}{
		{29 * time.Second, nil},
		{31 * time.Second, []string{"fast"}},
		{179 * time.Second, []string{"fast"}},
		{181 * time.Second, []string{"fast", "slow"}}, // any order: compare as a set below
	} {
		got := ids(t0.Add(tc.after), start)
		if len(got) != len(tc.want) {
			t.Fatalf("after %s: overdue %v, want %v", tc.after, got, tc.want)
		}
		for _, w := range tc.want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Fatalf("after %s: overdue %v, want %v", tc.after, got, tc.want)
			}
		}
	}
	// telemetry resets the count
	fast, _ := r.Lookup("fast")
	fast.Seen(t0.Add(25*time.Second).UnixMilli(), nil)
	if got := ids(t0.Add(50*time.Second), start); len(got) != 0 {
		t.Fatalf("heard from 25 s ago with a 10 s heartbeat, yet overdue: %v", got)
	}
	// a gateway that was down: silence while it was down does not count
	if got := ids(t0.Add(time.Hour), t0.Add(time.Hour-5*time.Second)); len(got) != 0 {
		t.Fatalf("overdue right after the gateway's start: %v", got)
	}
}
