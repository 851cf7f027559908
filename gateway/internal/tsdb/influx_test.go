package tsdb

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/ingest"
	"github.com/community-edge/edge/gateway/internal/store"
	"github.com/community-edge/edge/gateway/internal/testenv"
)

// shared is the influxd most tests write to, each under its own site tag.
var shared *testenv.Influx

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tsdb-influx-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if shared, err = testenv.StartInflux(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shared.Stop()
	os.RemoveAll(dir)
	os.Exit(code)
}

// running is a writer under test.
type running struct {
	w    *Writer
	reg  *prometheus.Registry
	acks atomic.Int64
	stop func()
}

func startWriter(t testing.TB, influxURL, spoolDir string, tune func(*Config)) *running {
	t.Helper()
	cfg := Config{URL: influxURL, Org: "test", Bucket: testenv.InfluxBucket, Token: testenv.InfluxToken,
		BatchSize: 500, FlushInterval: 50 * time.Millisecond, Timeout: 2 * time.Second, SpoolDir: spoolDir}
	if tune != nil {
		tune(&cfg)
	}
	r := &running{reg: prometheus.NewRegistry()}
	w, err := New(cfg, r.reg, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("writer: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// metric sums the samples of a metric family whose labels include all of match.
func (r *running) metric(name string, match ...string) float64 {
	mfs, _ := r.reg.Gather()
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(match); i += 2 {
				if labels[match[i]] != match[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func (r *running) telemetry(site, dev string, port *int, ts int64, v float64) {
	fam := drivers.CallButton
	name := "battery_pct"
	if port != nil {
		fam, name = drivers.Charger, "power_w"
	}
	msg := &drivers.Message{Kind: drivers.KindTelemetry, Site: site, Family: fam, Device: dev,
		Telemetry: &drivers.Telemetry{TS: ts, Port: port, Metrics: []drivers.Metric{{Name: name, Value: v}}}}
	r.w.Telemetry(msg, ts, func() { r.acks.Add(1) })
}

func (r *running) event(site, dev, id, typ string, ts int64) {
	d := &devices.Device{ID: dev, Family: drivers.CallButton, Site: site}
	r.w.Events([]*ingest.Stored{{Event: store.Event{DeviceID: dev, EventID: id, Family: "callbutton", Type: typ, TSMS: ts}, Device: d}})
}

// rows runs a Flux query and returns its rows as column → value.
func rows(t *testing.T, in *testenv.Influx, flux string) []map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, err := in.FluxCSV(ctx, flux)
	if err != nil {
		t.Fatal(err)
	}
	rd := csv.NewReader(strings.NewReader(text))
	rd.FieldsPerRecord = -1
	recs, err := rd.ReadAll()
	if err != nil {
		t.Fatalf("flux csv: %v\n%s", err, text)
	}
	var out []map[string]string
	var header []string
	for _, rec := range recs {
		if len(rec) == 0 || strings.HasPrefix(rec[0], "#") || len(rec) == 1 && rec[0] == "" {
			header = nil
			continue
		}
		if header == nil {
			header = rec
			continue
		}
		row := map[string]string{}
		for i, v := range rec {
			if i < len(header) {
				row[header[i]] = v
			}
		}
		out = append(out, row)
	}
	return out
}

func count(t *testing.T, in *testenv.Influx, measurement, site, field string) int {
	rs := rows(t, in, fmt.Sprintf(`from(bucket: "db/rp") |> range(start: 2000-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r._field == %q) |> group() |> count()`, measurement, site, field))
	if len(rs) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(rs[0]["_value"])
	return n
}

func eventually(t *testing.T, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not true after %s: %s", d, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSchema writes decoded telemetry of every family, events and an alarm, and reads them
// back with Flux: measurement, tags, fields and the device's timestamps.
func TestSchema(t *testing.T) {
	r := startWriter(t, shared.URL, t.TempDir(), nil)
	msgs := []string{
		`community/schema/callbutton/cb-1/telemetry|{"ts":1700000000123,"metrics":{"battery_pct":87,"rssi_dbm":-71.5}}`,
		`community/schema/locker/lk-1/telemetry|{"ts":1700000000456,"metrics":{"temperature_c":21.25,"humidity_pct":40,"occupied":12,"total":48}}`,
		`community/schema/charger/ch-1/telemetry|{"ts":1700000000789,"port":2,"metrics":{"power_w":1800,"voltage_v":220.5,"current_a":8.2,"temp_c":41,"energy_wh":123456789}}`,
	}
	for _, m := range msgs {
		topic, payload, _ := strings.Cut(m, "|")
		r.w.Telemetry(decoded(t, topic, payload), 0, func() { r.acks.Add(1) })
	}
	cb := &devices.Device{ID: "cb-1", Family: drivers.CallButton, Site: "schema"}
	r.w.Events([]*ingest.Stored{{Event: store.Event{DeviceID: "cb-1", EventID: "e-1", Family: "callbutton", Type: "sos", TSMS: 1700000001000},
		Data: drivers.EventData{Source: "pendant"}, Device: cb}})
	r.w.WriteAlarm("schema", "cb-1", "al-1", "sos", "critical", "raised", 1700000002000)

	eventually(t, 20*time.Second, func() (bool, string) {
		n := r.metric("gateway_tsdb_points_written_total")
		return n == 5, fmt.Sprintf("written %v of 5", n)
	})
	if r.acks.Load() != 3 {
		t.Errorf("acks %d, want 3", r.acks.Load())
	}
	got := rows(t, shared, `from(bucket: "db/rp") |> range(start: 2000-01-01T00:00:00Z) |> filter(fn: (r) => r.site == "schema")`)
	var lines []string
	for _, row := range got {
		tags := []string{}
		for _, k := range []string{"device", "family", "port", "severity", "type"} {
			if v := row[k]; v != "" {
				tags = append(tags, k+"="+v)
			}
		}
		lines = append(lines, fmt.Sprintf("%s %s %s=%s %s", row["_measurement"], strings.Join(tags, ","), row["_field"], row["_value"], row["_time"]))
	}
	wantRows := []string{
		"alarm device=cb-1,severity=critical,type=sos alarm_id=al-1 2023-11-14T22:13:22Z",
		"alarm device=cb-1,severity=critical,type=sos state=raised 2023-11-14T22:13:22Z",
		"callbutton device=cb-1 battery_pct=87 2023-11-14T22:13:20.123Z",
		"callbutton device=cb-1 rssi_dbm=-71.5 2023-11-14T22:13:20.123Z",
		"charger device=ch-1,port=2 current_a=8.2 2023-11-14T22:13:20.789Z",
		"charger device=ch-1,port=2 energy_wh=123456789 2023-11-14T22:13:20.789Z",
		"charger device=ch-1,port=2 power_w=1800 2023-11-14T22:13:20.789Z",
		"charger device=ch-1,port=2 temp_c=41 2023-11-14T22:13:20.789Z",
		"charger device=ch-1,port=2 voltage_v=220.5 2023-11-14T22:13:20.789Z",
		"device_event device=cb-1,family=callbutton,type=sos id=e-1 2023-11-14T22:13:21Z",
		"device_event device=cb-1,family=callbutton,type=sos source=pendant 2023-11-14T22:13:21Z",
		"locker device=lk-1 humidity_pct=40 2023-11-14T22:13:20.456Z",
		"locker device=lk-1 occupied=12 2023-11-14T22:13:20.456Z",
		"locker device=lk-1 temperature_c=21.25 2023-11-14T22:13:20.456Z",
		"locker device=lk-1 total=48 2023-11-14T22:13:20.456Z",
	}
	slices.Sort(lines)
	if strings.Join(lines, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("stored rows:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantRows, "\n"))
	}

	// the console's series query: raw for a short range, aggregateWindow for a long one
	q := SeriesQuery{Site: "schema", Family: "charger", Device: "ch-1", Metric: "power_w",
		From: time.UnixMilli(1700000000000), To: time.UnixMilli(1700000060000)}
	s, err := r.w.Series(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if s.Every != "" || len(s.Lines) != 1 || *s.Lines[0].Port != 2 || len(s.Lines[0].Points) != 1 || s.Lines[0].Points[0] != [2]float64{1700000000789, 1800} {
		t.Errorf("raw series: %+v", s)
	}
	q.From = q.To.Add(-30 * 24 * time.Hour)
	if s, err = r.w.Series(context.Background(), q); err != nil {
		t.Fatal(err)
	}
	if s.Every != "3h0m0s" || len(s.Lines) != 1 || len(s.Lines[0].Points) != 1 || s.Lines[0].Points[0][1] != 1800 {
		t.Errorf("downsampled series: %+v", s)
	}
	if _, err := r.w.Series(context.Background(), SeriesQuery{Metric: `x") |> drop(`, From: q.From, To: q.To}); err == nil {
		t.Error("a metric name with Flux in it was accepted")
	}
}

// feed sends telemetry of three series (two charger ports, one call button) at a steady pace
// until stop is closed, and returns how many of each it sent.
func feed(r *running, site string, base int64, every time.Duration, stop <-chan struct{}) int {
	n := 0
	for {
		select {
		case <-stop:
			return n
		default:
		}
		ts := base + int64(n)*10
		r.telemetry(site, "ch-1", ptr(1), ts, float64(n))
		r.telemetry(site, "ch-1", ptr(2), ts, float64(n))
		r.telemetry(site, "cb-1", nil, ts, float64(n))
		n++
		time.Sleep(every)
	}
}

// checkSeries reads every series back and checks each has exactly values 0..n-1 in time order.
func checkSeries(t *testing.T, in *testenv.Influx, site string, n int) {
	t.Helper()
	for _, s := range []struct{ meas, field, filter string }{
		{"charger", "power_w", `and r.port == "1"`}, {"charger", "power_w", `and r.port == "2"`}, {"callbutton", "battery_pct", ""}} {
		got := rows(t, in, fmt.Sprintf(`from(bucket: "db/rp") |> range(start: 2000-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == %q and r.site == %q and r._field == %q %s) |> sort(columns: ["_time"])`, s.meas, site, s.field, s.filter))
		if len(got) != n {
			t.Errorf("%s %s: %d points, want %d", s.meas, s.filter, len(got), n)
			continue
		}
		for i, row := range got {
			if row["_value"] != strconv.Itoa(i) {
				t.Errorf("%s %s: point %d is %s", s.meas, s.filter, i, row["_value"])
				break
			}
		}
	}
}

// TestInfluxStoppedAndRestarted stops InfluxDB under a steady load and starts it again: every
// point accepted meanwhile arrives exactly once and in order per series, replayed beside
// live data.
func TestInfluxStoppedAndRestarted(t *testing.T) {
	in, err := testenv.StartInflux(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop()
	r := startWriter(t, in.URL, t.TempDir(), nil)
	stop := make(chan struct{})
	sent := make(chan int)
	go func() { sent <- feed(r, "restart", 1700000000000, 2*time.Millisecond, stop) }()
	time.Sleep(time.Second)
	in.Stop()
	eventually(t, 10*time.Second, func() (bool, string) {
		return r.metric("gateway_tsdb_influx_up") == 0, "writer did not notice InfluxDB stopped"
	})
	time.Sleep(2 * time.Second)
	spooled := r.metric("gateway_tsdb_spool_bytes", "spool", "telemetry")
	if spooled == 0 {
		t.Error("nothing in the spool while InfluxDB was down")
	}
	if err := in.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	close(stop)
	n := <-sent
	eventually(t, 30*time.Second, func() (bool, string) {
		w, a := r.metric("gateway_tsdb_points_written_total", "spool", "telemetry"), r.metric("gateway_tsdb_points_spooled_total", "spool", "telemetry")
		return w == float64(3*n) && r.metric("gateway_tsdb_spool_bytes") == 0, fmt.Sprintf("written %v, spooled %v, sent %d", w, a, 3*n)
	})
	if r.acks.Load() != int64(3*n) {
		t.Errorf("acks %d, want %d", r.acks.Load(), 3*n)
	}
	if r.metric("gateway_tsdb_points_replayed_total") == 0 {
		t.Error("nothing was replayed from the backlog")
	}
	checkSeries(t, in, "restart", n)
}

// TestSpoolBoundDropsOldestTelemetryOnly fills a small spool while InfluxDB is unreachable:
// the oldest telemetry is dropped and counted, events are all kept; once InfluxDB is back
// what was kept arrives.
func TestSpoolBoundDropsOldestTelemetryOnly(t *testing.T) {
	dir := t.TempDir()
	dead := "http://127.0.0.1:" + strconv.Itoa(deadPort(t))
	tune := func(c *Config) { c.SpoolMaxBytes = 256 << 10; c.SegmentBytes = 16 << 10 }
	r := startWriter(t, dead, dir, tune)
	const points, events = 20000, 250
	for i := 0; i < points; i++ {
		r.telemetry("bound", "cb-1", nil, 1700000000000+int64(i), float64(i))
		if i%(points/events) == 0 {
			r.event("bound", "cb-1", "e-"+strconv.Itoa(i), "sos", 1700000000000+int64(i))
		}
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		return r.acks.Load() == points, fmt.Sprintf("acked %d of %d", r.acks.Load(), points)
	})
	r.stop()
	dropped := r.metric("gateway_tsdb_points_dropped_total", "reason", "spool_full", "spool", "telemetry")
	if dropped == 0 || r.metric("gateway_tsdb_points_dropped_total", "spool", "events") != 0 {
		t.Fatalf("dropped telemetry %v (want > 0), events %v (want 0)", dropped, r.metric("gateway_tsdb_points_dropped_total", "spool", "events"))
	}
	if disk := r.metric("gateway_tsdb_spool_disk_bytes", "spool", "telemetry"); disk > 256<<10+16<<10 {
		t.Errorf("telemetry spool %v bytes on disk, bound 256 KiB", disk)
	}

	r2 := startWriter(t, shared.URL, dir, tune)
	kept := points - int(dropped)
	eventually(t, 30*time.Second, func() (bool, string) {
		tel, ev := count(t, shared, "callbutton", "bound", "battery_pct"), count(t, shared, "device_event", "bound", "id")
		return tel == kept && ev == events, fmt.Sprintf("telemetry %d of %d kept, events %d of %d", tel, kept, ev, events)
	})
	// the oldest went first: nothing is left from the middle of the run, the newest are all
	// there (the batch that was in flight when the bound hit is kept, not counted as dropped)
	got := rows(t, shared, `from(bucket: "db/rp") |> range(start: 2000-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "callbutton" and r.site == "bound" and r._value >= 1000.0 and r._value < 10000.0) |> count()`)
	if len(got) != 0 {
		t.Errorf("points from the middle of the run survived the bound: %v", got)
	}
	got = rows(t, shared, `from(bucket: "db/rp") |> range(start: 2000-01-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "callbutton" and r.site == "bound" and r._value >= 10000.0) |> sort(columns: ["_time"])`)
	if len(got) == 0 || got[len(got)-1]["_value"] != strconv.Itoa(points-1) {
		t.Fatalf("the newest point is missing")
	}
	first, _ := strconv.Atoi(got[0]["_value"])
	if len(got) != points-first {
		t.Errorf("the newest points are not all there: %d from %d on", len(got), first)
	}
	r2.stop()
}

func deadPort(t *testing.T) int {
	p, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// faultProxy sits in front of influxd and answers as told: pass, 500, 429 or slowly.
type faultProxy struct {
	mode atomic.Value // string
	seen sync.Map     // mode → true once a write met it
}

func (p *faultProxy) handler(target string) http.Handler {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mode := p.mode.Load().(string)
		p.seen.Store(mode, true)
		switch mode {
		case "500":
			http.Error(w, `{"code":"internal error","message":"test proxy"}`, http.StatusInternalServerError)
		case "429":
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"code":"too many requests","message":"test proxy"}`, http.StatusTooManyRequests)
		case "once": // this write passes, the next ones fail
			p.mode.Store("500")
			rp.ServeHTTP(w, r)
		case "slow":
			// forwarded, but the answer comes after the writer's timeout: it must retry
			rp.ServeHTTP(httptest.NewRecorder(), r)
			time.Sleep(1500 * time.Millisecond)
			http.Error(w, "late", http.StatusGatewayTimeout)
		default:
			rp.ServeHTTP(w, r)
		}
	})
}

// TestFaultyInfluxLosesNothing puts a proxy answering 500, 429 and slowly in front of InfluxDB
// under load: every point arrives once, and the heap stays far below what was spooled.
func TestFaultyInfluxLosesNothing(t *testing.T) {
	p := &faultProxy{}
	p.mode.Store("pass")
	srv := httptest.NewServer(p.handler(shared.URL))
	defer srv.Close()
	r := startWriter(t, srv.URL, t.TempDir(), func(c *Config) { c.Timeout = time.Second })

	var peak atomic.Uint64
	sample := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-sample:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	var base runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&base)

	stop := make(chan struct{})
	sent := make(chan int)
	go func() { sent <- feed(r, "faulty", 1700000000000, time.Millisecond, stop) }()
	for _, mode := range []string{"pass", "500", "pass", "429", "pass", "slow", "pass"} {
		p.mode.Store(mode)
		time.Sleep(1500 * time.Millisecond)
	}
	close(stop)
	n := <-sent
	// a burst while InfluxDB answers 500: ~30 MB of line protocol must go to disk, not memory
	p.mode.Store("500")
	eventually(t, 10*time.Second, func() (bool, string) { return r.metric("gateway_tsdb_influx_up") == 0, "still up" })
	const burst = 100000
	for i := 0; i < burst; i++ {
		r.telemetry("faulty-burst", "cb-1", nil, 1700000000000+int64(i), float64(i))
	}
	p.mode.Store("pass")
	eventually(t, 60*time.Second, func() (bool, string) {
		w := r.metric("gateway_tsdb_points_written_total", "spool", "telemetry")
		return w >= float64(3*n+burst) && r.metric("gateway_tsdb_spool_bytes") == 0, fmt.Sprintf("written %v of %d", w, 3*n+burst)
	})
	close(sample)
	<-sampled
	for _, mode := range []string{"500", "429", "slow"} {
		if _, ok := p.seen.Load(mode); !ok {
			t.Errorf("no write met the proxy in mode %s", mode)
		}
	}
	for _, kind := range []string{"unavailable", "throttled"} {
		if r.metric("gateway_tsdb_write_errors_total", "kind", kind) == 0 {
			t.Errorf("no %s write errors counted", kind)
		}
	}
	checkSeries(t, shared, "faulty", n)
	if c := count(t, shared, "callbutton", "faulty-burst", "battery_pct"); c != burst {
		t.Errorf("burst: %d of %d points", c, burst)
	}
	if grew := int64(peak.Load()) - int64(base.HeapAlloc); grew > 24<<20 {
		t.Errorf("heap grew by %d MiB while spooling ~%d MiB", grew>>20, burst*60>>20)
	}
}

// TestBacklogRetriedWithoutLiveData: InfluxDB comes back, takes one batch, fails again while
// no new data arrives: the backlog itself must probe it and go through once it is back.
func TestBacklogRetriedWithoutLiveData(t *testing.T) {
	p := &faultProxy{}
	p.mode.Store("500")
	srv := httptest.NewServer(p.handler(shared.URL))
	defer srv.Close()
	// small segments make small records, so the first batch is not all of it
	r := startWriter(t, srv.URL, t.TempDir(), func(c *Config) { c.SegmentBytes = 16 << 10 })
	const n = 3000
	for i := 0; i < n; i++ {
		r.telemetry("probe", "cb-1", nil, 1700000000000+int64(i), float64(i))
	}
	eventually(t, 10*time.Second, func() (bool, string) { return r.metric("gateway_tsdb_influx_up") == 0, "still up" })
	p.mode.Store("once")
	eventually(t, 10*time.Second, func() (bool, string) {
		w := r.metric("gateway_tsdb_points_written_total")
		return w > 0 && w < n && r.metric("gateway_tsdb_influx_up") == 0,
			fmt.Sprintf("written %v, up %v", r.metric("gateway_tsdb_points_written_total"), r.metric("gateway_tsdb_influx_up"))
	})
	p.mode.Store("pass")
	eventually(t, 20*time.Second, func() (bool, string) {
		c := count(t, shared, "callbutton", "probe", "battery_pct")
		return c == n, fmt.Sprintf("%d of %d points", c, n)
	})
}

// TestRunLeavesNoGoroutines: after Run returns, every goroutine the writer started has ended,
// and what it acknowledged is in the spool for the next start.
func TestRunLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	dir := t.TempDir()
	r := startWriter(t, "http://127.0.0.1:"+strconv.Itoa(deadPort(t)), dir, nil)
	for i := 0; i < 1000; i++ {
		r.telemetry("leak", "cb-1", nil, 1700000000000+int64(i), float64(i))
	}
	r.event("leak", "cb-1", "e-1", "sos", 1700000000000)
	r.stop()
	if r.acks.Load() != 1000 {
		t.Errorf("acked %d of 1000 before stopping", r.acks.Load())
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		n := runtime.NumGoroutine()
		return n <= before, fmt.Sprintf("%d goroutines, %d before", n, before)
	})
	r2 := startWriter(t, shared.URL, dir, nil)
	eventually(t, 20*time.Second, func() (bool, string) {
		c, e := count(t, shared, "callbutton", "leak", "battery_pct"), count(t, shared, "device_event", "leak", "id")
		return c == 1000 && e == 1, fmt.Sprintf("%d of 1000 points, %d of 1 events after the restart", c, e)
	})
	r2.stop()
}
