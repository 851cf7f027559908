// Package ingest owns the path from the MQTT broker to the gateway's store: size limits,
// decoding through the drivers, device checks, counted rejections, and the single writer that
// stores events and connection-state changes in group-committed transactions and acknowledges
// each message to the broker only after the transaction holding it is on disk. Telemetry takes
// its own path and never waits behind events.
package ingest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Config tunes the pipeline.
type Config struct {
	Site            string
	MaxPayloadBytes int
	BatchMax        int // events per transaction at most
	QueueMax        int // events waiting before Submit waits for room
	StatusFlush     time.Duration
	HeartbeatCheck  time.Duration // how often silent devices are looked for; default 1s
}

// Stored is an event as committed, with the device it came from.
type Stored struct {
	store.Event
	Data   drivers.EventData
	Device *devices.Device
}

// TxHook runs inside the transaction that stores new events (never for duplicates), so what
// it writes commits or fails with them. The alarm engine is one.
type TxHook interface {
	ApplyTx(ctx context.Context, tx *sql.Tx, evs []*Stored) error
}

// Listener is told of events after they are committed. It must not block.
type Listener func(evs []*Stored)

// TelemetryObserver sees every accepted telemetry report on the hot path, before the sink. It
// must be quick and must not block (the alarm engine's threshold timers are one).
type TelemetryObserver func(dev *devices.Device, t *drivers.Telemetry, nowMS int64)

// TelemetrySink takes decoded telemetry. It calls ack once the report is safe (written or
// spooled); it must not block the caller for long.
type TelemetrySink interface {
	Telemetry(msg *drivers.Message, receivedMS int64, ack func())
}

// item is one unit of work for the writer.
type item struct {
	msg      drivers.Message
	dev      *devices.Device
	ack      func()
	received int64  // Unix ms
	reason   string // for gateway-made state changes: why
}

// Pipeline is the ingest path. Make it with New, start it with Run, feed it with Submit.
type Pipeline struct {
	cfg     Config
	drivers *drivers.Registry
	devs    *devices.Registry
	st      *store.Store
	m       *Metrics
	log     *slog.Logger
	rl      *rejectLog
	now     func() time.Time

	hooks     []TxHook
	listeners []Listener
	observers []TelemetryObserver
	telemetry TelemetrySink

	mu      sync.Mutex
	cond    *sync.Cond // signals the writer (items added) and waiting submitters (room made)
	queue   []item
	closed  bool
	started time.Time
	gwSeq   atomic.Uint64
}

// New makes a pipeline; it does no I/O.
func New(cfg Config, reg *drivers.Registry, devs *devices.Registry, st *store.Store, m *Metrics, log *slog.Logger) *Pipeline {
	if cfg.HeartbeatCheck == 0 {
		cfg.HeartbeatCheck = time.Second
	}
	p := &Pipeline{cfg: cfg, drivers: reg, devs: devs, st: st, m: m, log: log, rl: newRejectLog(log, 10*time.Second), now: time.Now}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// AddHook adds a transaction hook; call before Run.
func (p *Pipeline) AddHook(h TxHook) { p.hooks = append(p.hooks, h) }

// AddListener adds a listener for committed events; call before Run.
func (p *Pipeline) AddListener(l Listener) { p.listeners = append(p.listeners, l) }

// AddTelemetryObserver adds an observer of telemetry; call before Run.
func (p *Pipeline) AddTelemetryObserver(o TelemetryObserver) { p.observers = append(p.observers, o) }

// SetTelemetrySink sets where telemetry goes; without one it is acknowledged once the device's
// health is updated. Call before Run.
func (p *Pipeline) SetTelemetrySink(s TelemetrySink) { p.telemetry = s }

// Submit takes one MQTT message. It returns false, and will not call ack, when the pipeline is
// shutting down: the broker keeps the message and redelivers it. Otherwise ack is called once,
// when the message is stored or, if rejected, counted. Submit does not block on the store
// unless QueueMax events are already waiting.
func (p *Pipeline) Submit(topic string, payload []byte, ack func()) bool {
	now := p.now()
	nowMS := now.UnixMilli()
	if len(payload) > p.cfg.MaxPayloadBytes {
		p.reject(topic, drivers.Reject(drivers.ReasonOversize, "payload of %d bytes exceeds the limit of %d", len(payload), p.cfg.MaxPayloadBytes))
		ack()
		return true
	}
	msg, err := p.drivers.Decode(topic, payload)
	p.m.decode.Observe(time.Since(now).Seconds())
	if err != nil {
		p.reject(topic, err)
		ack()
		return true
	}
	if msg.Site == "" {
		msg.Site = p.cfg.Site
	}
	dev, err := p.checkDevice(&msg)
	if err != nil {
		p.reject(topic, err)
		ack()
		return true
	}
	p.m.messages[msg.Kind].Inc()

	switch msg.Kind {
	case drivers.KindTelemetry:
		if dev.Seen(nowMS, msg.Telemetry) {
			p.devs.StateChanged(dev) // the installer's page waits for the first message
		}
		for _, o := range p.observers {
			o(dev, msg.Telemetry, nowMS)
		}
		if !dev.Online() && dev.ClaimPending() {
			if !p.enqueue(item{msg: stateMsg(&msg, drivers.Online), dev: dev, received: nowMS, reason: "telemetry"}) {
				dev.ReleasePending()
			}
		}
		if p.telemetry != nil {
			p.telemetry.Telemetry(&msg, nowMS, ack)
		} else {
			ack()
		}
		return true
	case drivers.KindCmdAck:
		dev.Seen(nowMS, nil)
		p.log.Info("command acknowledged", "device", dev.ID, "cmd", msg.Ack.ID, "ok", msg.Ack.OK, "error", msg.Ack.Error)
		ack()
		return true
	case drivers.KindEvent:
		if dev.Seen(nowMS, nil) {
			p.devs.StateChanged(dev)
		}
		if !dev.Online() && dev.ClaimPending() {
			if !p.enqueue(item{msg: stateMsg(&msg, drivers.Online), dev: dev, received: nowMS, reason: "event"}) {
				dev.ReleasePending()
				return false
			}
		}
	}
	return p.enqueue(item{msg: msg, dev: dev, ack: ack, received: nowMS})
}

// Will takes a last will the broker published for a device (embedded broker): it goes the
// same way as a status message, with no acknowledgement to wait for.
func (p *Pipeline) Will(topic string, payload []byte) {
	p.Submit(topic, payload, func() {})
}

func stateMsg(from *drivers.Message, s drivers.State) drivers.Message {
	return drivers.Message{Kind: drivers.KindStatus, Site: from.Site, Family: from.Family, Device: from.Device,
		Status: &drivers.Status{State: s}}
}

func (p *Pipeline) checkDevice(msg *drivers.Message) (*devices.Device, error) {
	dev, ok := p.devs.Lookup(msg.Device)
	if !ok {
		return nil, drivers.Reject(drivers.ReasonUnknownDevice, "device %q is not registered", msg.Device)
	}
	if dev.Family != msg.Family {
		return nil, drivers.Reject(drivers.ReasonWrongFamily, "device %q is a %s, not a %s", msg.Device, dev.Family, msg.Family)
	}
	if msg.Site != p.cfg.Site {
		return nil, drivers.Reject(drivers.ReasonBadTopic, "site %q is not this gateway's site %q", msg.Site, p.cfg.Site)
	}
	return dev, nil
}

func (p *Pipeline) reject(topic string, err error) {
	r := drivers.ReasonOf(err)
	if r == "" {
		r = drivers.ReasonMalformed
	}
	p.m.rejected(r).Inc()
	p.rl.record(r, topic, err)
}

// enqueue adds work for the writer, waiting while the queue is full. It returns false once the
// pipeline is closed.
func (p *Pipeline) enqueue(it item) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for !p.closed && len(p.queue) >= p.cfg.QueueMax {
		p.m.queueFullWaits.Inc()
		p.cond.Wait()
	}
	if p.closed {
		return false
	}
	p.queue = append(p.queue, it)
	p.cond.Broadcast()
	return true
}

// QueueLen is how many events wait for the store.
func (p *Pipeline) QueueLen() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// Close stops intake: later Submits return false. Work already queued is still stored by Run.
func (p *Pipeline) Close() {
	p.mu.Lock()
	p.closed = true
	p.cond.Broadcast()
	p.mu.Unlock()
}

// Run stores queued work until ctx is done, then closes intake, stores what is left and
// returns. It also takes silent devices offline and saves device health periodically.
func (p *Pipeline) Run(ctx context.Context) error {
	p.started = p.now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.supervise(ctx)
	}()
	go func() {
		<-ctx.Done()
		p.Close()
	}()
	err := p.writeLoop()
	wg.Wait()
	if ferr := p.devs.Flush(context.Background()); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

func (p *Pipeline) take(buf []item) ([]item, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.queue) == 0 && !p.closed {
		p.cond.Wait()
	}
	if len(p.queue) == 0 {
		return buf, false
	}
	n := min(len(p.queue), p.cfg.BatchMax)
	buf = append(buf[:0], p.queue[:n]...)
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	p.cond.Broadcast()
	return buf, true
}

func (p *Pipeline) writeLoop() error {
	// not Run's context: after it ends the writer still stores what is queued
	conn, err := p.st.Writer(context.Background())
	if err != nil {
		p.Close()
		return fmt.Errorf("ingest: %w", err)
	}
	defer conn.Close()
	var batch []item
	var stored []*Stored
	for {
		var ok bool
		batch, ok = p.take(batch)
		if !ok {
			return nil
		}
		for attempt := 0; ; attempt++ {
			var err error
			stored, err = p.commit(conn.Conn, batch, stored[:0])
			if err == nil {
				break
			}
			p.m.commitErrors.Inc()
			wait := min(time.Duration(1<<min(attempt, 6))*50*time.Millisecond, 3*time.Second)
			p.log.Error("storing events failed; retrying, nothing is acknowledged until stored", "err", err, "events", len(batch), "retry_in", wait)
			time.Sleep(wait)
		}
		for i := range batch {
			if it := &batch[i]; it.ack != nil {
				if it.msg.Kind == drivers.KindEvent {
					p.m.acknowledged.Inc() // counted first: whoever sees the ack sees the count
				}
				it.ack()
			}
		}
		if len(stored) > 0 {
			for _, l := range p.listeners {
				l(stored)
			}
		}
		if err := conn.Committed(context.Background(), len(batch), time.Now()); err != nil {
			p.log.Warn("sizing the writer's page cache failed", "err", err)
		}
		clear(batch)
	}
}

// commit stores one batch in one transaction. Memory is changed only after the commit.
func (p *Pipeline) commit(conn *sql.Conn, batch []item, stored []*Stored) ([]*Stored, error) {
	ctx := context.Background()
	start := time.Now()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return stored, fmt.Errorf("ingest: begin: %w", err)
	}
	defer tx.Rollback()
	cached := p.st.Cached(tx) // statements prepared once, not per batch

	type change struct {
		dev   *devices.Device
		state string
		at    int64
		fw    string
	}
	var changes []change
	// state as this batch leaves it, per device, before memory is updated
	batchState := map[*devices.Device]string{}
	dups := 0
	for i := range batch {
		it := &batch[i]
		var ev store.Event
		var data drivers.EventData
		switch it.msg.Kind {
		case drivers.KindEvent:
			e := it.msg.Event
			raw, err := json.Marshal(e.Data)
			if err != nil {
				return stored, fmt.Errorf("ingest: encode event data: %w", err)
			}
			ev = store.Event{DeviceID: it.dev.ID, EventID: e.ID, Family: string(it.dev.Family), Type: e.Type,
				TSMS: e.TS, ReceivedMS: it.received, Data: string(raw)}
			data = e.Data
		case drivers.KindStatus:
			st := it.msg.Status
			cur, ok := batchState[it.dev]
			if !ok {
				cur = it.dev.State()
			}
			if cur == string(st.State) {
				if st.FW != "" {
					changes = append(changes, change{it.dev, cur, it.dev.Health().StateSince, st.FW})
				}
				continue
			}
			batchState[it.dev] = string(st.State)
			reason := it.reason
			if reason == "" {
				reason = "status"
			}
			if err := store.SetState(ctx, cached, it.dev.ID, string(st.State), it.received, st.FW); err != nil {
				return stored, err
			}
			changes = append(changes, change{it.dev, string(st.State), it.received, st.FW})
			typ := drivers.EventDeviceOnline
			if st.State == drivers.Offline {
				typ = drivers.EventDeviceOffline
			}
			data = drivers.EventData{Reason: reason}
			raw, _ := json.Marshal(data)
			ev = store.Event{DeviceID: it.dev.ID, EventID: "gw-" + strconv.FormatInt(it.received, 36) + "-" + strconv.FormatUint(p.gwSeq.Add(1), 36),
				Family: string(it.dev.Family), Type: typ, TSMS: it.received, ReceivedMS: it.received, Data: string(raw)}
		default:
			continue
		}
		dup, err := store.InsertEvent(ctx, cached, &ev)
		if err != nil {
			return stored, err
		}
		if dup {
			dups++
			continue
		}
		stored = append(stored, &Stored{Event: ev, Data: data, Device: it.dev})
	}
	if len(stored) > 0 {
		for _, h := range p.hooks {
			if err := h.ApplyTx(ctx, tx, stored); err != nil {
				return stored[:0], fmt.Errorf("ingest: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return stored[:0], fmt.Errorf("ingest: commit: %w", err)
	}
	p.m.commitSeconds.Observe(time.Since(start).Seconds())
	p.m.batchSize.Observe(float64(len(batch)))
	p.m.duplicates.Add(float64(dups))
	p.m.stored.Add(float64(len(stored)))
	for _, c := range changes {
		c.dev.SetState(c.state, c.at, c.fw)
		p.devs.StateChanged(c.dev)
	}
	for i := range batch {
		if it := &batch[i]; it.msg.Kind == drivers.KindStatus && it.ack == nil {
			it.dev.ReleasePending()
		}
	}
	for _, s := range stored {
		p.log.Debug("event stored", "device", s.DeviceID, "type", s.Type, "id", s.EventID, "seq", s.Seq)
	}
	return stored, nil
}

// supervise takes devices offline after three missed heartbeats and saves device health.
func (p *Pipeline) supervise(ctx context.Context) {
	hb := time.NewTicker(p.cfg.HeartbeatCheck)
	defer hb.Stop()
	flush := time.NewTicker(p.cfg.StatusFlush)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			for _, d := range p.devs.Overdue(p.now(), p.started) {
				if !d.ClaimPending() {
					continue
				}
				msg := drivers.Message{Kind: drivers.KindStatus, Site: p.cfg.Site, Family: d.Family, Device: d.ID,
					Status: &drivers.Status{State: drivers.Offline}}
				if !p.enqueue(item{msg: msg, dev: d, received: p.now().UnixMilli(), reason: "heartbeat_missed"}) {
					d.ReleasePending()
					return
				}
			}
		case <-flush.C:
			if err := p.devs.Flush(ctx); err != nil {
				p.log.Warn("saving device health failed", "err", err)
			}
		}
	}
}
