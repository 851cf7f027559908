// Package load generates MQTT load for benchmarks: many simulated device connections, each
// logged in as its own device, sharing a target message rate made of realistic telemetry and
// events, with every QoS 1 acknowledgement counted. Go benchmarks embed it through New and
// Run; the fwsim command wraps it as "fwsim load".
package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/firmware-sim/credentials"
	"github.com/community-edge/edge/firmware-sim/family"
	"github.com/community-edge/edge/firmware-sim/mqttconn"
	"github.com/community-edge/edge/firmware-sim/payload"
)

// Config describes a load run.
type Config struct {
	Broker string // tcp://host:port
	Site   string // default "load"
	// Devices is the number of device connections; default 100.
	Devices int
	// Rate is the total target rate in messages per second, spread evenly over the
	// connections; 0 sends as fast as the broker acknowledges.
	Rate float64
	// Duration stops sending after this time; Messages stops after this many messages. At
	// least one of them (or the context) must end the run.
	Duration time.Duration
	Messages int64
	// Families of the devices, assigned round robin; default all three.
	Families []drivers.Family
	// QoS of telemetry and events: 0 or 1 (default 0 — set 1 for the contract's events).
	QoS byte
	// EventRatio is the fraction of messages that are events (the rest is telemetry); 0..1.
	EventRatio float64
	// Dialect is "native" (default) or "alink"; Models gives the Alink products (default
	// payload.BuiltinModels).
	Dialect string
	Models  *payload.Models
	// Credentials gives each device's password; default credentials.Shared("").
	Credentials credentials.Source
	// IDPrefix starts every device id; default "load-". Ids are {prefix}{family prefix}-{n}.
	IDPrefix string
	// Inflight bounds the unacknowledged messages per connection; default 500.
	Inflight int
	// Seed makes the payloads reproducible.
	Seed uint64
	// ConnectTimeout bounds connecting all devices; default 30 s.
	ConnectTimeout time.Duration
}

// Report is the outcome of a run.
type Report struct {
	Devices       int           // connections asked for
	Connected     int           // connections that logged in
	Sent          int64         // messages handed to the client
	Acked         int64         // messages the broker acknowledged (QoS 1) or that were written (QoS 0)
	Errors        int64         // publishes that failed or were not acknowledged within 30 s
	Elapsed       time.Duration // from the first send to the last acknowledgement
	ConnectErrors []error
}

// Rate is the achieved rate: acknowledged messages per second.
func (r Report) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Acked) / r.Elapsed.Seconds()
}

func (r Report) String() string {
	return fmt.Sprintf("devices %d/%d connected, sent %d, acked %d, errors %d, elapsed %s, rate %.0f msg/s",
		r.Connected, r.Devices, r.Sent, r.Acked, r.Errors, r.Elapsed.Round(time.Millisecond), r.Rate())
}

// Generator runs load.
type Generator struct {
	cfg Config
	log *slog.Logger
}

// New checks the configuration and sets defaults; it does no I/O. Every mistake is
// reported at once.
func New(cfg Config, log *slog.Logger) (*Generator, error) {
	var errs []error
	if cfg.Broker == "" {
		errs = append(errs, errors.New("broker is required"))
	}
	if cfg.Devices < 0 {
		errs = append(errs, fmt.Errorf("devices %d must be positive", cfg.Devices))
	}
	if cfg.Rate < 0 {
		errs = append(errs, fmt.Errorf("rate %g must not be negative", cfg.Rate))
	}
	if cfg.Duration < 0 || cfg.Messages < 0 {
		errs = append(errs, errors.New("duration and messages must not be negative"))
	}
	if cfg.QoS > 1 {
		errs = append(errs, fmt.Errorf("qos %d is not 0 or 1", cfg.QoS))
	}
	if cfg.EventRatio < 0 || cfg.EventRatio > 1 {
		errs = append(errs, fmt.Errorf("event ratio %g is not in 0..1", cfg.EventRatio))
	}
	for _, f := range cfg.Families {
		if !f.Valid() {
			errs = append(errs, fmt.Errorf("family %q is not callbutton, locker or charger", f))
		}
	}
	if cfg.Dialect != "" && !slices.Contains(payload.Dialects(), cfg.Dialect) {
		errs = append(errs, fmt.Errorf("dialect %q is not native or alink", cfg.Dialect))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if cfg.Site == "" {
		cfg.Site = "load"
	}
	if cfg.Devices == 0 {
		cfg.Devices = 100
	}
	if len(cfg.Families) == 0 {
		cfg.Families = drivers.Families()
	}
	if cfg.Dialect == "" {
		cfg.Dialect = "native"
	}
	if cfg.Models == nil {
		ms, err := payload.NewModels(payload.BuiltinModels()...)
		if err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		cfg.Models = ms
	}
	if cfg.Credentials == nil {
		cfg.Credentials = credentials.Shared("")
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "load-"
	}
	if cfg.Inflight <= 0 {
		cfg.Inflight = 500
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	return &Generator{cfg: cfg, log: log}, nil
}

// worker is one device connection with its payload source.
type worker struct {
	dev  payload.Device
	conn *mqttconn.Conn
	enc  payload.Encoder
	sim  family.Sim
	// phase in [0, 1) shifts this device's sending within its period: a fleet's devices are
	// not in step, and a fleet in lockstep would send every device's message at once (at a
	// quiet site's 0.1 messages/s per device, a thousand messages in one burst every 10 s)
	phase float64
	// owned by the sender
	queue  []drivers.Telemetry
	evDebt float64
}

// counters are shared by every worker.
type counters struct {
	sent, acked, errors atomic.Int64
	budget              atomic.Int64 // messages left to send; <0 means unlimited
	lastAck             atomic.Int64 // unix nanoseconds
}

// Run connects the devices, sends the load, waits for the acknowledgements, disconnects
// cleanly and reports. It returns an error only if no device could connect.
func (g *Generator) Run(ctx context.Context) (Report, error) {
	rep := Report{Devices: g.cfg.Devices}
	workers, connErrs := g.connect(ctx)
	rep.Connected, rep.ConnectErrors = len(workers), connErrs
	defer g.disconnect(workers)
	if len(workers) == 0 {
		return rep, fmt.Errorf("load: no device connected (%d errors): %w", len(connErrs), errors.Join(connErrs...))
	}
	var c counters
	c.budget.Store(-1)
	if g.cfg.Messages > 0 {
		c.budget.Store(g.cfg.Messages)
	}
	sendCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if g.cfg.Duration > 0 {
		sendCtx, cancel = context.WithTimeout(sendCtx, g.cfg.Duration)
		defer cancel()
	}
	perConn := g.cfg.Rate / float64(len(workers))
	g.log.Info("load starting", "devices", len(workers), "rate", g.cfg.Rate, "duration", g.cfg.Duration,
		"messages", g.cfg.Messages, "qos", g.cfg.QoS, "event_ratio", g.cfg.EventRatio)
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		tokens := make(chan paho.Token, g.cfg.Inflight)
		wg.Add(2)
		go func() {
			defer wg.Done()
			defer close(tokens)
			g.send(sendCtx, w, perConn, &c, tokens)
		}()
		go func() {
			defer wg.Done()
			ack(tokens, &c)
		}()
	}
	wg.Wait()
	rep.Sent, rep.Acked, rep.Errors = c.sent.Load(), c.acked.Load(), c.errors.Load()
	if last := c.lastAck.Load(); last > 0 {
		rep.Elapsed = time.Unix(0, last).Sub(start)
	}
	g.log.Info("load done", "report", rep.String())
	return rep, nil
}

// connect logs every device in, a few at a time.
func (g *Generator) connect(ctx context.Context) ([]*worker, []error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.ConnectTimeout)
	defer cancel()
	workers := make([]*worker, g.cfg.Devices)
	errs := make([]error, g.cfg.Devices)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range g.cfg.Devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			workers[i], errs[i] = g.connectOne(ctx, i)
		}()
	}
	wg.Wait()
	var ok []*worker
	var bad []error
	for i := range workers {
		if errs[i] != nil {
			bad = append(bad, errs[i])
		} else {
			ok = append(ok, workers[i])
		}
	}
	return ok, bad
}

// Member is one device of a load run.
type Member struct {
	ID     string
	Family drivers.Family
}

// Members lists, in order, the n devices a run connects with the given id prefix and families
// (empty: "load-" and every family), so a gateway under test can declare them beforehand.
func Members(n int, prefix string, fams []drivers.Family) []Member {
	out := make([]Member, n)
	for i := range out {
		out[i] = member(prefix, fams, i)
	}
	return out
}

// member is the i-th device (from 0) of a run.
func member(prefix string, fams []drivers.Family, i int) Member {
	if prefix == "" {
		prefix = "load-"
	}
	if len(fams) == 0 {
		fams = drivers.Families()
	}
	f := fams[i%len(fams)]
	return Member{ID: fmt.Sprintf("%s%s-%05d", prefix, f, i+1), Family: f}
}

func (g *Generator) connectOne(ctx context.Context, i int) (*worker, error) {
	m := member(g.cfg.IDPrefix, g.cfg.Families, i)
	f := m.Family
	dev := payload.Device{Site: g.cfg.Site, Family: f, ID: m.ID}
	pw, err := g.cfg.Credentials.Password(dev.ID)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var model payload.ThingModel
	if g.cfg.Dialect == "alink" {
		m, ok := g.cfg.Models.ForFamily(f)
		if !ok {
			return nil, fmt.Errorf("load: no alink product model for %s", f)
		}
		model = m
	}
	seed := g.cfg.Seed + uint64(i) + 1
	enc, err := payload.NewEncoder(g.cfg.Dialect, dev, uint32(seed*2654435761), model)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	fs, err := family.New(f, family.Options{Seed: seed})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	conn, err := mqttconn.New(mqttconn.Config{Broker: g.cfg.Broker, Device: dev, Password: pw})
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	if err := conn.Connect(ctx); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	now := time.Now()
	if err := conn.PublishWait(ctx, payload.Status(dev, "fwsim-load", now.UnixMilli())); err != nil {
		_ = conn.Disconnect(context.Background())
		return nil, fmt.Errorf("load: %w", err)
	}
	fs.Advance(now)
	// spread evenly and reproducibly: successive multiples of the golden ratio, modulo 1
	_, phase := math.Modf(float64(i) * 0.6180339887498949)
	return &worker{dev: dev, conn: conn, enc: enc, sim: fs, phase: phase}, nil
}

func (g *Generator) disconnect(workers []*worker) {
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := w.conn.Disconnect(ctx); err != nil {
				g.log.Warn("disconnect", "device", w.dev.ID, "err", err)
			}
		}()
	}
	wg.Wait()
}

// A sender wakes up to send what it owes once per message it is due, but at most every
// minPace and at least every maxPace: a thousand connections each waking every 5 ms, whatever
// their rate, made timers a fifth of the generator's CPU, taken from the system it measures.
const (
	minPace = 5 * time.Millisecond
	maxPace = 100 * time.Millisecond
)

// pace is how often a sender at rate messages per second wakes up.
func pace(rate float64) time.Duration {
	if rate <= 0 {
		return minPace
	}
	return min(max(time.Duration(float64(time.Second)/rate), minPace), maxPace)
}

// send publishes this connection's share: at rate messages per second (0: as fast as
// acknowledgements allow), until ctx ends or the budget is spent.
func (g *Generator) send(ctx context.Context, w *worker, rate float64, c *counters, tokens chan<- paho.Token) {
	start := time.Now()
	var sent int64
	tick := time.NewTicker(pace(rate))
	defer tick.Stop()
	lastAdvance := start
	for {
		owed := int64(1 << 30)
		if rate > 0 {
			owed = int64(rate*time.Since(start).Seconds()+w.phase) - sent
		}
		for ; owed > 0; owed-- {
			if ctx.Err() != nil || !take(&c.budget) {
				return
			}
			now := time.Now()
			if now.Sub(lastAdvance) >= time.Second {
				w.sim.Advance(now)
				lastAdvance = now
			}
			m, err := g.next(w, now)
			if err != nil {
				c.errors.Add(1)
				continue
			}
			tok := w.conn.Publish(m)
			sent++
			c.sent.Add(1)
			tokens <- tok // blocks while Inflight messages wait for their acknowledgement
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// take spends one message of the budget; a negative budget is unlimited.
func take(budget *atomic.Int64) bool {
	for {
		b := budget.Load()
		if b < 0 {
			return true
		}
		if b == 0 {
			return false
		}
		if budget.CompareAndSwap(b, b-1) {
			return true
		}
	}
}

// next makes the next message: an event with probability EventRatio (spread evenly), else
// the next telemetry report.
func (g *Generator) next(w *worker, now time.Time) (payload.Message, error) {
	w.evDebt += g.cfg.EventRatio
	if w.evDebt >= 1 {
		w.evDebt--
		ev := w.sim.RandomEvent()
		m, _, err := w.enc.Event(now.UnixMilli(), ev.Type, ev.Data)
		m.QoS = g.cfg.QoS
		return m, err
	}
	if len(w.queue) == 0 {
		w.queue = w.sim.Telemetry(now)
	}
	t := w.queue[0]
	w.queue = w.queue[1:]
	t.TS = now.UnixMilli()
	return w.enc.Telemetry(t, g.cfg.QoS)
}

// ackTimeout bounds the wait for one acknowledgement.
const ackTimeout = 30 * time.Second

// ack waits for each token in order and counts the outcome.
func ack(tokens <-chan paho.Token, c *counters) {
	for tok := range tokens {
		if !tok.WaitTimeout(ackTimeout) || tok.Error() != nil {
			c.errors.Add(1)
			continue
		}
		c.acked.Add(1)
		c.lastAck.Store(time.Now().UnixNano())
	}
}
