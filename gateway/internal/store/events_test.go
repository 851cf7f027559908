package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func openTest(t testing.TB) *Store {
	t.Helper()
	st, err := Open(context.Background(), filepath.Join(t.TempDir(), "gw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// insert stores n events per device, the devices interleaved, in one transaction.
func insert(t testing.TB, st *Store, from, n int, devices ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	for i := from; i < from+n; i++ {
		for _, d := range devices {
			e := Event{DeviceID: d, EventID: fmt.Sprintf("5f3a-%d", i), Family: "locker", Type: "door_opened", TSMS: int64(i), ReceivedMS: int64(i), Data: "{}"}
			if dup, err := InsertEvent(ctx, st.Cached(tx), &e); err != nil || dup {
				t.Fatalf("insert %s/%s: dup %v, %v", d, e.EventID, dup, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestDeviceEventsNewestFirst: a device's latest events come newest first, only its own, with
// the one index per device the events table keeps (the unique one that also finds duplicates).
func TestDeviceEventsNewestFirst(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	insert(t, st, 0, 50, "lk-1", "lk-2", "lk-3")
	evs, err := st.DeviceEvents(ctx, "lk-2", 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.DeviceID+"/"+e.EventID)
	}
	if fmt.Sprint(got) != "[lk-2/5f3a-49 lk-2/5f3a-48 lk-2/5f3a-47]" {
		t.Fatalf("latest events of lk-2: %v", got)
	}
	if evs[0].Seq <= evs[1].Seq {
		t.Fatalf("not newest first: seq %d then %d", evs[0].Seq, evs[1].Seq)
	}
	tx, err := st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	again := Event{DeviceID: "lk-2", EventID: "5f3a-7", Family: "locker", Type: "door_opened", Data: "{}"}
	if dup, err := InsertEvent(ctx, st.Cached(tx), &again); err != nil || !dup {
		t.Fatalf("an event id the device sent before: dup %v, %v", dup, err)
	}
	var indexes []string
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		rows.Scan(&n)
		indexes = append(indexes, n)
	}
	if fmt.Sprint(indexes) != "[sqlite_autoindex_events_1]" {
		t.Fatalf("indexes on events: %v", indexes)
	}
}

// BenchmarkDeviceEventsBusyDevice: the device page's latest events for a device with 100,000
// stored events among 200,000.
func BenchmarkDeviceEventsBusyDevice(b *testing.B) {
	st := openTest(b)
	insert(b, st, 0, 100_000, "ch-busy", "lk-other")
	b.ResetTimer()
	for b.Loop() {
		evs, err := st.DeviceEvents(context.Background(), "ch-busy", 20)
		if err != nil || len(evs) != 20 {
			b.Fatalf("%d events, %v", len(evs), err)
		}
	}
}
