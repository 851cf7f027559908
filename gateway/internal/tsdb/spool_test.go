package tsdb

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testSpool(t *testing.T, dir string, maxBytes int64) (*spool, *metrics) {
	t.Helper()
	m := newMetrics(prometheus.NewRegistry())
	sp, err := openSpool(spoolConfig{Name: "telemetry", Dir: dir, MaxBytes: maxBytes, SegmentBytes: 4 << 10}, m.forSpool("telemetry"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	return sp, m
}

// line i of the tests' records
func line(i int) string {
	return fmt.Sprintf("callbutton,device=d,site=s battery_pct=%d %d\n", i, 1000+i)
}

func appendLines(t *testing.T, sp *spool, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := sp.append(appendRecord(nil, 1, int64(1000+i), []byte(line(i)))); err != nil {
			t.Fatal(err)
		}
	}
}

func readAll(sp *spool, r region, at pos) *batch {
	b := &batch{region: r}
	b.reset(at)
	sp.fill(b, 1<<30)
	return b
}

func want(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(line(i))
	}
	return b.String()
}

func TestSpoolRestartKeepsUnsentAndSkipsTornTail(t *testing.T) {
	dir := t.TempDir()
	sp, _ := testSpool(t, dir, 0)
	appendLines(t, sp, 0, 100) // several 4 KiB segments
	b := readAll(sp, regionLive, sp.livePos())
	if string(b.lines) != want(0, 100) || b.points != 100 {
		t.Fatalf("read %d points", b.points)
	}
	// send the first 40: commit a batch ending after record 40
	first := &batch{region: regionLive}
	first.reset(sp.livePos())
	sp.fill(first, 40)
	sp.commit(first)
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}
	// a torn record at the end of the last segment, as a power loss might leave it
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	last := segs[len(segs)-1]
	rec := appendRecord(nil, 1, 1, []byte(line(999)))
	f, _ := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(rec[:len(rec)-5])
	f.Close()

	sp, m := testSpool(t, dir, 0)
	defer sp.close()
	appendLines(t, sp, 100, 110)
	b = readAll(sp, regionLive, sp.livePos())
	if string(b.lines) != want(40, 110) {
		t.Fatalf("after restart read %d points, want 70 (40..109):\n%s", b.points, b.lines)
	}
	if n := value(m.corrupt.WithLabelValues("telemetry")); n != 1 {
		t.Errorf("corrupt records = %v, want 1", n)
	}
}

func TestSpoolBoundDropsOldestAndCounts(t *testing.T) {
	sp, m := testSpool(t, t.TempDir(), 16<<10)
	defer sp.close()
	appendLines(t, sp, 0, 1000) // ~80 KiB, bound 16 KiB
	if sp.bytes > 16<<10+4<<10 {
		t.Errorf("spool holds %d bytes, bound 16 KiB", sp.bytes)
	}
	dropped := value(m.dropped.WithLabelValues("telemetry", "spool_full"))
	b := readAll(sp, regionLive, sp.livePos())
	if int(dropped)+b.points != 1000 || dropped == 0 {
		t.Fatalf("dropped %v + left %d != 1000", dropped, b.points)
	}
	if !strings.HasSuffix(string(b.lines), want(990, 1000)) || !strings.HasPrefix(string(b.lines), line(int(dropped))) {
		t.Errorf("the newest must be kept, the oldest dropped")
	}
}

func TestSpoolBacklogThenLive(t *testing.T) {
	sp, _ := testSpool(t, t.TempDir(), 0)
	defer sp.close()
	appendLines(t, sp, 0, 50)
	// InfluxDB was away while these 50 came; it is back: they become the backlog
	live, backlog := sp.startBacklog()
	if backlog == 0 {
		t.Fatal("no backlog")
	}
	appendLines(t, sp, 50, 60)
	if b := readAll(sp, regionLive, live); string(b.lines) != want(50, 60) {
		t.Fatalf("live: %s", b.lines)
	}
	from, ok := sp.backlogPos()
	if !ok {
		t.Fatal("no backlog position")
	}
	b := readAll(sp, regionBacklog, from)
	if string(b.lines) != want(0, 50) {
		t.Fatalf("backlog: %d points", b.points)
	}
	sp.commit(b)
	if _, ok := sp.backlogPos(); ok {
		t.Error("backlog not done after its commit")
	}
	if got := sp.UnsentBytes(); got != int64(10*len(appendRecord(nil, 1, 1, []byte(line(50))))) {
		t.Errorf("unsent bytes %d", got)
	}
}

// value is a counter's or gauge's value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	m.Write(&d)
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

func TestSpoolAgeBoundDropsOldSegments(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry())
	sp, err := openSpool(spoolConfig{Name: "telemetry", Dir: t.TempDir(), MaxAge: time.Hour, SegmentBytes: 4 << 10}, m.forSpool("telemetry"), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	appendLines(t, sp, 0, 200)
	later := time.Now().Add(2 * time.Hour)
	sp.now = func() time.Time { return later }
	appendLines(t, sp, 200, 201)
	dropped := value(m.dropped.WithLabelValues("telemetry", "too_old"))
	b := readAll(sp, regionLive, sp.livePos())
	if dropped == 0 || int(dropped)+b.points != 201 || !strings.HasSuffix(string(b.lines), line(200)) {
		t.Errorf("dropped %v as too old, %d left; want the old segments gone and the new point kept", dropped, b.points)
	}
}
