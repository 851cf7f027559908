package store

import (
	"context"
	"database/sql"
	"testing"
	"time"
)

func cacheSize(t *testing.T, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWriterCacheFollowsLoad: readers and a quiet writer keep the small page cache; a busy
// rate (busyRecords within busyWindow) gives the writer the large one, which it keeps while
// the rate stays busy and gives back a minute after it was last busy. A large batch now and
// then (devices reporting in step) is not a busy rate.
func TestWriterCacheFollowsLoad(t *testing.T) {
	st := openTest(t)
	ctx := context.Background()
	if got := cacheSize(t, st.DB()); got != -smallCacheKiB {
		t.Fatalf("a reader's cache_size is %d, want %d", got, -smallCacheKiB)
	}
	w, err := st.Writer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	t0 := time.Unix(1_800_000_000, 0)
	burst := busyRecords / 2
	for _, step := range []struct {
		records int
		at      time.Duration
		want    int
	}{
		{0, 0, -smallCacheKiB}, // as opened
		{burst, time.Second, -smallCacheKiB},
		{burst, time.Second + busyWindow, -smallCacheKiB}, // in the next window: still a burst
		{burst, time.Second + 2*busyWindow, -smallCacheKiB},
		{burst, 2*time.Second + 2*busyWindow, -busyCacheKiB}, // two in one window
		{1, 2*time.Second + 2*busyWindow + quietAfter/2, -busyCacheKiB},
		{busyRecords, 3*time.Second + 2*busyWindow + quietAfter/2, -busyCacheKiB}, // busy again: the minute starts over
		{1, 3*time.Second + 2*busyWindow + quietAfter, -busyCacheKiB},
		{1, 4*time.Second + 2*busyWindow + quietAfter*3/2, -smallCacheKiB},
		{1, 5*time.Second + 2*busyWindow + quietAfter*3/2, -smallCacheKiB},
		{busyRecords, 6*time.Second + 2*busyWindow + quietAfter*3/2, -busyCacheKiB}, // one batch of the whole rate
	} {
		if step.at > 0 {
			if err := w.Committed(ctx, step.records, t0.Add(step.at)); err != nil {
				t.Fatal(err)
			}
		}
		if got := cacheSize(t, w); got != step.want {
			t.Fatalf("after %d records at +%v: writer cache_size %d, want %d", step.records, step.at, got, step.want)
		}
	}
	if got := cacheSize(t, st.DB()); got != -smallCacheKiB {
		t.Fatalf("a reader's cache_size is %d after the writer's changes, want %d", got, -smallCacheKiB)
	}
}
