// Package tsdb owns the gateway's time series in InfluxDB: it turns telemetry, stored events
// and alarm state changes into points of the design's schema, appends them to a durable
// on-disk spool (which acknowledges them), and sends the spool to InfluxDB in batches with the
// client's blocking write API, keeping what InfluxDB cannot take yet — bounded by bytes and
// age for telemetry, never dropped for events and alarms — and replaying it beside live data
// once InfluxDB is back. It also answers the console's series queries with Flux.
package tsdb

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/ingest"
)

// Config configures the writer.
type Config struct {
	URL    string // http(s)://host:8086
	Org    string // InfluxDB 2.x organisation (1.8 ignores it)
	Bucket string // InfluxDB 2.x bucket, or "database/retention-policy" on 1.8
	Token  string // InfluxDB 2.x API token, or "user:password" on 1.8

	BatchSize     int           // points per write at most; default 5000
	FlushInterval time.Duration // a batch waits at most this for more points; default 1s
	Timeout       time.Duration // one write; default 10s
	DrainTimeout  time.Duration // at shutdown, how long to keep sending what is spooled; default 5s

	SpoolDir      string        // the spool's directory (under the data directory)
	SpoolMaxBytes int64         // telemetry spool bound; default 1 GiB
	SpoolMaxAge   time.Duration // telemetry older than this in the spool is dropped; 0: no bound
	// SegmentBytes is the size of one spool segment file; default SpoolMaxBytes/8, between 64 KiB and 16 MiB.
	SegmentBytes int64
}

func (c *Config) setDefaults() {
	if c.BatchSize <= 0 {
		c.BatchSize = 5000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.SpoolMaxBytes <= 0 {
		c.SpoolMaxBytes = 1 << 30
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = min(max(c.SpoolMaxBytes/8, 64<<10), 16<<20)
	}
}

// intakeMax bounds the bytes of line protocol waiting to be appended to a spool: telemetry
// callers wait beyond it (only when the disk stalls); events beyond it are counted and
// dropped (they are in the local store).
const intakeMax = 4 << 20

// appendLinger is how long the appender lets points gather after a write.
const appendLinger = 2 * time.Millisecond

// intake collects encoded points (and the acknowledgements they wait for) for one spool's
// appender.
type intake struct {
	mu     sync.Mutex
	room   *sync.Cond
	buf    []byte
	points uint32
	oldest int64
	acks   []func()
	closed bool
	wake   chan struct{}
}

func newIntake() *intake {
	in := &intake{wake: make(chan struct{}, 1)}
	in.room = sync.NewCond(&in.mu)
	return in
}

// added records a point appended to buf (mu held).
func (in *intake) added(tsMS int64) {
	if in.points == 0 || tsMS < in.oldest {
		in.oldest = tsMS
	}
	in.points++
}

func (in *intake) signal() {
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

func (in *intake) close() {
	in.mu.Lock()
	in.closed = true
	in.room.Broadcast()
	in.mu.Unlock()
	in.signal()
}

// Writer is the time series writer. Make it with New, start it with Run; feed it with
// Telemetry (the ingest pipeline's telemetry sink), Events (an ingest listener) and WriteAlarm.
type Writer struct {
	cfg    Config
	log    *slog.Logger
	m      *metrics
	client influxdb2.Client
	write  api.WriteAPIBlocking
	query  api.QueryAPI

	tele, ev *intake

	mu     sync.Mutex
	spools []*spool
}

// New makes a writer and registers its metrics; it does no I/O.
func New(cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Writer, error) {
	cfg.setDefaults()
	if cfg.URL == "" || cfg.Bucket == "" || cfg.SpoolDir == "" {
		return nil, errors.New("tsdb: url, bucket and spool directory are required")
	}
	opts := influxdb2.DefaultOptions().SetPrecision(time.Millisecond).SetLogLevel(0).
		SetHTTPRequestTimeout(uint(cfg.Timeout.Seconds() + 1)).SetApplicationName("community-edge-gateway")
	client := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	w := &Writer{cfg: cfg, log: log, m: newMetrics(reg), client: client,
		write: client.WriteAPIBlocking(cfg.Org, cfg.Bucket), query: client.QueryAPI(cfg.Org),
		tele: newIntake(), ev: newIntake()}
	w.m.up.Set(1)
	reg.MustRegister(newSpoolCollector(w))
	return w, nil
}

// Telemetry takes one decoded telemetry report (ingest.TelemetrySink). ack is called once its
// point is appended to the spool; it is called at once for a report with nothing to store.
// It waits only when the spool's disk cannot keep up.
func (w *Writer) Telemetry(msg *drivers.Message, receivedMS int64, ack func()) {
	in := w.tele
	in.mu.Lock()
	for len(in.buf) >= intakeMax && !in.closed {
		in.room.Wait()
	}
	n := len(in.buf)
	in.buf = appendTelemetry(in.buf, msg)
	if len(in.buf) == n {
		in.mu.Unlock()
		ack()
		return
	}
	in.added(msg.Telemetry.TS)
	in.acks = append(in.acks, ack)
	in.mu.Unlock()
	in.signal()
}

// Events takes events as stored (an ingest.Listener): one device_event point each. It never
// blocks; the events are already in the local store.
func (w *Writer) Events(evs []*ingest.Stored) {
	in := w.ev
	in.mu.Lock()
	for _, s := range evs {
		if len(in.buf) >= intakeMax {
			w.m.dropped.WithLabelValues("events", "memory_full").Inc()
			continue
		}
		in.buf = appendEvent(in.buf, s)
		in.added(s.TSMS)
	}
	in.mu.Unlock()
	in.signal()
}

// WriteAlarm records an alarm state change as an alarm point. It never blocks and shares
// nothing with telemetry; the alarm engine's own store is the record of truth.
func (w *Writer) WriteAlarm(site, device, alarmID, typ, severity, state string, tsMS int64) {
	in := w.ev
	in.mu.Lock()
	if len(in.buf) >= intakeMax {
		in.mu.Unlock()
		w.m.dropped.WithLabelValues("events", "memory_full").Inc()
		return
	}
	in.buf = appendAlarm(in.buf, site, device, alarmID, typ, severity, state, tsMS)
	in.added(tsMS)
	in.mu.Unlock()
	in.signal()
}

func (w *Writer) openSpools() []*spool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spools
}

// Run opens the spools and writes until ctx is done. Then it appends and acknowledges what
// it has taken, sends what it can within the drain timeout and closes the spools; what is
// left is sent after the next start. Call Telemetry only while Run runs (or before): the
// ingest path must stop before ctx is cancelled.
func (w *Writer) Run(ctx context.Context) error {
	tele, err := openSpool(spoolConfig{Name: "telemetry", Dir: filepath.Join(w.cfg.SpoolDir, "telemetry"),
		MaxBytes: w.cfg.SpoolMaxBytes, MaxAge: w.cfg.SpoolMaxAge, SegmentBytes: w.cfg.SegmentBytes},
		w.m.forSpool("telemetry"), w.log)
	if err != nil {
		return err
	}
	ev, err := openSpool(spoolConfig{Name: "events", Dir: filepath.Join(w.cfg.SpoolDir, "events"),
		SegmentBytes: w.cfg.SegmentBytes}, w.m.forSpool("events"), w.log)
	if err != nil {
		tele.close()
		return err
	}
	w.mu.Lock()
	w.spools = []*spool{tele, ev}
	w.mu.Unlock()
	w.log.Info("time series writer running", "url", w.cfg.URL, "bucket", w.cfg.Bucket, "spool", w.cfg.SpoolDir,
		"spool_max_bytes", w.cfg.SpoolMaxBytes, "spool_max_age", w.cfg.SpoolMaxAge)

	sendCtx, stopSend := context.WithCancel(context.Background())
	defer stopSend()
	var appenders, senders sync.WaitGroup
	for _, p := range []struct {
		in *intake
		sp *spool
		// events are few and wanted soon: they wait a quarter of the flush interval at most
		flush time.Duration
	}{{w.tele, tele, w.cfg.FlushInterval}, {w.ev, ev, max(w.cfg.FlushInterval/4, 10*time.Millisecond)}} {
		appenders.Add(1)
		go func() {
			defer appenders.Done()
			w.appendLoop(p.in, p.sp)
		}()
		s := &sender{w: w, sp: p.sp, m: p.sp.m, flush: p.flush, log: w.log.With("spool", p.sp.cfg.Name)}
		senders.Add(1)
		go func() {
			defer senders.Done()
			s.run(sendCtx)
		}()
	}
	<-ctx.Done()
	w.tele.close()
	w.ev.close()
	appenders.Wait()
	stopSend()
	senders.Wait()
	w.client.Close()
	return errors.Join(tele.close(), ev.close())
}

// appendRecords appends lines as records of about chunk bytes at most, cut at line ends, so
// that segments stay near their size and the byte bound holds. All of them carry oldest.
func appendRecords(dst []byte, points uint32, oldest int64, lines []byte, chunk int) []byte {
	if len(lines) <= chunk {
		return appendRecord(dst, points, oldest, lines)
	}
	for len(lines) > 0 {
		n := len(lines)
		if n > chunk {
			if i := bytes.IndexByte(lines[chunk:], '\n'); i >= 0 {
				n = chunk + i + 1
			}
		}
		part := lines[:n]
		dst = appendRecord(dst, uint32(bytes.Count(part, []byte{'\n'})), oldest, part)
		lines = lines[n:]
	}
	return dst
}

// appendLoop appends what in collects to sp as records and then acknowledges it. It returns
// once in is closed and empty.
func (w *Writer) appendLoop(in *intake, sp *spool) {
	var (
		buf  []byte
		rec  []byte
		acks []func()
	)
	for {
		in.mu.Lock()
		for len(in.buf) == 0 && !in.closed {
			in.mu.Unlock()
			<-in.wake
			in.mu.Lock()
		}
		if len(in.buf) == 0 {
			in.mu.Unlock()
			return
		}
		buf, in.buf = in.buf, buf[:0]
		acks, in.acks = in.acks, acks[:0]
		points, oldest := in.points, in.oldest
		in.points, in.oldest = 0, 0
		closed := in.closed
		in.room.Broadcast()
		in.mu.Unlock()

		rec = appendRecords(rec[:0], points, oldest, buf, int(sp.cfg.SegmentBytes/4))
		for attempt := 0; ; attempt++ {
			err := sp.append(rec)
			if err == nil {
				sp.m.accepted.Add(float64(points))
				for _, a := range acks {
					a()
				}
				break
			}
			if closed && attempt >= 2 {
				// not acknowledged: the broker keeps the telemetry and sends it again
				w.log.Error("cannot append to the spool; giving up at shutdown without acknowledging", "spool", sp.cfg.Name, "points", points, "err", err)
				break
			}
			w.log.Error("cannot append to the spool; retrying, nothing is acknowledged meanwhile", "spool", sp.cfg.Name, "points", points, "err", err)
			time.Sleep(time.Second)
			in.mu.Lock()
			closed = in.closed
			in.mu.Unlock()
		}
		clear(acks)
		if !closed {
			// let points gather: one write(2) per linger at most under load, instead of one
			// per message; acknowledgements wait this much longer at most
			time.Sleep(appendLinger)
		}
	}
}
