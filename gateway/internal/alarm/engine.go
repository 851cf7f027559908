package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/community-edge/edge/drivers"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/fanout"
	"github.com/community-edge/edge/gateway/internal/ingest"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Config configures the engine.
type Config struct {
	Site  string
	Rules rules.Config
	Tick  time.Duration // how often timers and escalation are checked; default 250ms
}

// Outbox is told of every alarm change inside the transaction that stores it, so what it
// queues for the grid case system commits with the change. The uplink is one.
type Outbox interface {
	AlarmChanged(ctx context.Context, tx *sql.Tx, c Change) error
}

// Engine raises, updates and announces alarms.
type Engine struct {
	cfg  Config
	st   *store.Store
	devs *devices.Registry
	log  *slog.Logger
	now  func() time.Time

	outbox    Outbox
	listeners []func([]Change)

	// pending holds the changes of the ingest transaction being written and open the open
	// alarms it has read; both are only touched from the ingest writer (ApplyTx, then
	// Committed). known is what committed ingest transactions left known (it has its own lock:
	// every other transaction that changes alarms empties it).
	pending []Change
	open    openAlarms
	known   knownAlarms

	mu        sync.Mutex
	memTimers map[string]*memTimer // telemetry thresholds, by timer key
	timing    map[string]int       // how many of memTimers each device has
	hub       fanout.Hub[Change]
}

type memTimer struct {
	d      rules.Decision
	device string
	family drivers.Family
	fired  bool
}

// New makes an engine; it does no I/O. Call Migrate before use.
func New(cfg Config, st *store.Store, devs *devices.Registry, log *slog.Logger) *Engine {
	cfg.Rules = cfg.Rules.WithDefaults()
	if cfg.Tick == 0 {
		cfg.Tick = 250 * time.Millisecond
	}
	return &Engine{cfg: cfg, st: st, devs: devs, log: log, now: time.Now,
		memTimers: map[string]*memTimer{}, timing: map[string]int{}}
}

// SetClock replaces the clock, for tests.
func (e *Engine) SetClock(now func() time.Time) { e.now = now }

// Migrate creates or updates the engine's tables.
func (e *Engine) Migrate(ctx context.Context) error { return e.st.Migrate(ctx, Migrations) }

// SetOutbox sets the outbox; call before Run.
func (e *Engine) SetOutbox(o Outbox) { e.outbox = o }

// AddListener adds a function told of every change after it is stored. It must not block.
// Call before Run.
func (e *Engine) AddListener(f func([]Change)) { e.listeners = append(e.listeners, f) }

// ApplyTx is the ingest transaction hook: it evaluates the rules on the new events and writes
// the alarms they raise or change in the same transaction.
func (e *Engine) ApplyTx(ctx context.Context, rawTx *sql.Tx, evs []*ingest.Stored) error {
	e.pending = e.pending[:0]
	e.open.reset(&e.known)
	tx := e.st.Cached(rawTx)
	for _, ev := range evs {
		in := rules.Event{Device: ev.DeviceID, Family: drivers.Family(ev.Family), Type: ev.Type, TSMS: ev.TSMS,
			AtMS: ev.ReceivedMS, Data: ev.Data}
		if ev.Type == "parcel_deposited" {
			in.Resident = e.resident(ev.Data.Resident)
		}
		ds := rules.OnEvent(e.cfg.Rules, in)
		if err := e.apply(ctx, tx, &e.open, ev.DeviceID, ev.Family, ds, ev.ReceivedMS, &e.pending); err != nil {
			return err
		}
	}
	return e.open.flush(ctx, tx)
}

// Committed is the ingest listener: the transaction ApplyTx wrote into is on disk, so its
// changes are announced.
func (e *Engine) Committed([]*ingest.Stored) {
	e.known.learn(&e.open)
	if len(e.pending) > 0 {
		e.publish(e.pending)
		e.pending = nil
	}
}

// Telemetry is the ingest telemetry observer: it keeps the threshold timers.
func (e *Engine) Telemetry(dev *devices.Device, t *drivers.Telemetry, nowMS int64) {
	if dev.Family != drivers.Charger {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range t.Metrics {
		for _, d := range rules.OnReading(e.cfg.Rules, rules.Reading{Device: dev.ID, Family: dev.Family, Port: t.Port,
			Metric: m.Name, Value: m.Value, AtMS: nowMS, Timing: e.timing[dev.ID] > 0}) {
			_, running := e.memTimers[d.Key]
			switch {
			case d.Op == rules.OpTimer && !running:
				e.memTimers[d.Key] = &memTimer{d: d, device: dev.ID, family: dev.Family}
				e.timing[dev.ID]++
			case d.Op == rules.OpStopTimer && running:
				delete(e.memTimers, d.Key)
				if e.timing[dev.ID]--; e.timing[dev.ID] == 0 {
					delete(e.timing, dev.ID)
				}
			}
		}
	}
}

// resident finds whether a parcel's addressee (a name, or "building-unit-room") lives alone,
// from the residents of the call buttons.
func (e *Engine) resident(ref string) rules.ResidentInfo {
	if ref == "" {
		return rules.ResidentInfo{}
	}
	d, ok := e.devs.Find(func(d *devices.Device) bool {
		return d.Resident != nil && (d.Resident.Name == ref ||
			d.Location.Building+"-"+d.Location.Unit+"-"+d.Location.Room == ref)
	})
	if !ok {
		return rules.ResidentInfo{}
	}
	return rules.ResidentInfo{Known: true, LivesAlone: d.Resident.LivesAlone}
}

// apply carries out decisions for one device inside tx, appending the changes to out.
func (e *Engine) apply(ctx context.Context, tx store.Tx, open *openAlarms, device, family string, ds []rules.Decision, atMS int64, out *[]Change) error {
	for _, d := range ds {
		switch d.Op {
		case rules.OpRaise:
			if err := e.raise(ctx, tx, open, device, family, d, atMS, out); err != nil {
				return err
			}
		case rules.OpClear:
			xs, err := open.device(ctx, tx, device)
			if err != nil {
				return err
			}
			for _, x := range slices.Clone(xs) {
				if x.a.Condition != d.Condition {
					continue
				}
				a := x.a
				a.State, a.AutoCleared, a.ResolvedBy, a.ResolvedMS, a.Outcome, a.LastMS = Resolved, true, "system", atMS, OutcomeRestored, atMS
				if err := e.change(ctx, tx, &a, ChangeCleared, "system", "", atMS, out); err != nil {
					return err
				}
				open.saved(x, a)
			}
		case rules.OpCancel:
			xs, err := open.device(ctx, tx, device)
			if err != nil {
				return err
			}
			for _, x := range xs {
				if !slices.Contains(d.Types, x.a.Type) || x.a.CancelledMS != 0 {
					continue
				}
				a := x.a
				a.CancelledMS, a.LastMS = atMS, atMS
				if err := e.change(ctx, tx, &a, ChangeCancelled, "resident", "居民按下取消 / resident pressed cancel", atMS, out); err != nil {
					return err
				}
				open.saved(x, a)
			}
		case rules.OpTimer:
			_, err := tx.ExecContext(ctx, `INSERT INTO alarm_timers(key, device_id, type, severity, condition, detail, at_ms)
				VALUES(?,?,?,?,?,?,?) ON CONFLICT(key) DO NOTHING`, d.Key, device, d.Type, string(d.Severity), d.Condition, detailJSON(d.Detail), d.AtMS)
			if err != nil {
				return fmt.Errorf("alarm: start timer: %w", err)
			}
		case rules.OpStopTimer:
			if _, err := tx.ExecContext(ctx, `DELETE FROM alarm_timers WHERE key = ?`, d.Key); err != nil {
				return fmt.Errorf("alarm: stop timer: %w", err)
			}
		}
	}
	return nil
}

// OutcomeRestored is the outcome of an alarm a restoral event cleared.
const OutcomeRestored = "restored"

func (e *Engine) raise(ctx context.Context, tx store.Tx, open *openAlarms, device, family string, d rules.Decision, atMS int64, out *[]Change) error {
	x, err := open.find(ctx, tx, device, d.Type)
	if err != nil {
		return err
	}
	if x != nil {
		c, err := recordChange(ctx, tx, open.repeat(x, atMS), ChangeRepeated, "system", detailJSON(d.Detail), atMS)
		if err != nil {
			return err
		}
		return e.told(ctx, tx, c, out)
	}
	t := rules.Titles[d.Type]
	a := Alarm{Site: e.cfg.Site, DeviceID: device, Family: family, Type: d.Type, Severity: d.Severity, State: Raised,
		TitleZH: t.ZH, TitleEN: t.EN, Condition: d.Condition, Detail: detailJSON(d.Detail), RaisedMS: atMS, LastMS: atMS}
	if err := insertAlarm(ctx, tx, &a); err != nil {
		return err
	}
	open.add(a)
	c, err := recordChange(ctx, tx, a, ChangeRaised, "system", a.Detail, atMS)
	if err != nil {
		return err
	}
	return e.told(ctx, tx, c, out)
}

// change saves a and records the change.
func (e *Engine) change(ctx context.Context, tx store.Tx, a *Alarm, kind, actor, detail string, atMS int64, out *[]Change) error {
	if err := saveAlarm(ctx, tx, a); err != nil {
		return err
	}
	c, err := recordChange(ctx, tx, *a, kind, actor, detail, atMS)
	if err != nil {
		return err
	}
	return e.told(ctx, tx, c, out)
}

func (e *Engine) told(ctx context.Context, tx store.Tx, c Change, out *[]Change) error {
	if e.outbox != nil {
		if err := e.outbox.AlarmChanged(ctx, tx.Tx, c); err != nil {
			return fmt.Errorf("alarm: outbox: %w", err)
		}
	}
	*out = append(*out, c)
	return nil
}

// inTx runs f in a transaction and announces its changes once committed.
func (e *Engine) inTx(ctx context.Context, f func(tx store.Tx, out *[]Change) error) error {
	raw, err := e.st.DB().BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alarm: begin: %w", err)
	}
	defer raw.Rollback()
	tx := e.st.Cached(raw)
	var out []Change
	if err := f(tx, &out); err != nil {
		return err
	}
	if len(out) > 0 {
		e.known.invalidate() // before the commit: an ingest transaction may follow at once
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("alarm: commit: %w", err)
	}
	if len(out) > 0 {
		e.publish(out)
	}
	return nil
}

// GatewayDevice is the device id of alarms about the gateway itself.
const GatewayDevice = "gateway"

// RaiseLocal raises (or repeats) an alarm about the gateway itself, such as uplink_down.
func (e *Engine) RaiseLocal(ctx context.Context, typ string, sev rules.Severity, condition string, detail map[string]any) error {
	return e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		d := rules.Decision{Op: rules.OpRaise, Type: typ, Severity: sev, Condition: condition, Detail: detail}
		var open openAlarms
		if err := e.raise(ctx, tx, &open, GatewayDevice, "gateway", d, e.now().UnixMilli(), out); err != nil {
			return err
		}
		return open.flush(ctx, tx)
	})
}

// ClearLocal closes the gateway's own open alarms of condition, as a restoral does.
func (e *Engine) ClearLocal(ctx context.Context, condition string) error {
	return e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		return e.apply(ctx, tx, &openAlarms{}, GatewayDevice, "gateway", []rules.Decision{{Op: rules.OpClear, Condition: condition}}, e.now().UnixMilli(), out)
	})
}

// Acknowledge marks a raised alarm as being handled by actor.
func (e *Engine) Acknowledge(ctx context.Context, id, actor string) (Alarm, error) {
	var a Alarm
	err := e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		var err error
		if a, err = getAlarm(ctx, tx, id); err != nil {
			return err
		}
		if a.State != Raised {
			return fmt.Errorf("%w: alarm %s is %s", ErrState, id, a.State)
		}
		now := e.now().UnixMilli()
		a.State, a.AckBy, a.AckMS = Acknowledged, actor, now
		return e.change(ctx, tx, &a, ChangeAcknowledged, actor, "", now, out)
	})
	return a, err
}

// Resolve closes an open alarm with an outcome and a note.
func (e *Engine) Resolve(ctx context.Context, id, actor, outcome, note string) (Alarm, error) {
	if !ValidOutcome(outcome) {
		return Alarm{}, fmt.Errorf("%w: unknown outcome %q", ErrState, outcome)
	}
	var a Alarm
	err := e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		var err error
		if a, err = getAlarm(ctx, tx, id); err != nil {
			return err
		}
		if a.State == Resolved {
			return fmt.Errorf("%w: alarm %s is already resolved", ErrState, id)
		}
		now := e.now().UnixMilli()
		if a.State == Raised { // resolving acknowledges too
			a.AckBy, a.AckMS = actor, now
		}
		a.State, a.ResolvedBy, a.ResolvedMS, a.Outcome, a.Note = Resolved, actor, now, outcome, note
		return e.change(ctx, tx, &a, ChangeResolved, actor, outcome+" "+note, now, out)
	})
	return a, err
}

// SetCase records the grid case system's case and its progress on an alarm.
func (e *Engine) SetCase(ctx context.Context, id, caseID, caseState, detail string) error {
	return e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		a, err := getAlarm(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.CaseID == caseID && a.CaseState == caseState {
			return nil
		}
		a.CaseID, a.CaseState = caseID, caseState
		now := e.now().UnixMilli()
		return e.change(ctx, tx, &a, ChangeCase, "grid", strings.TrimSpace(caseState+" "+detail), now, out)
	})
}

// Get returns an alarm and its timeline.
func (e *Engine) Get(ctx context.Context, id string) (Alarm, []Change, error) {
	a, err := getAlarm(ctx, e.st.DB(), id)
	if err != nil {
		return a, nil, err
	}
	tl, err := timeline(ctx, e.st.DB(), id)
	return a, tl, err
}

// Filter selects alarms for List.
type Filter struct {
	Open     *bool // only open (true) or only resolved (false)
	Type     string
	Device   string
	Building string
	FromMS   int64
	ToMS     int64
	Limit    int // default 100, at most 1000
}

// List returns alarms, open ones by severity then newest, resolved ones newest first.
func (e *Engine) List(ctx context.Context, f Filter) ([]Alarm, error) {
	var where []string
	var args []any
	add := func(c string, v ...any) { where = append(where, c); args = append(args, v...) }
	if f.Open != nil {
		if *f.Open {
			add("state != 'resolved'")
		} else {
			add("state = 'resolved'")
		}
	}
	if f.Type != "" {
		add("type = ?", f.Type)
	}
	if f.Device != "" {
		add("device_id = ?", f.Device)
	}
	if f.Building != "" {
		add("device_id IN (SELECT id FROM devices WHERE building = ?)", f.Building)
	}
	if f.FromMS > 0 {
		add("raised_ms >= ?", f.FromMS)
	}
	if f.ToMS > 0 {
		add("raised_ms < ?", f.ToMS)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	q := ""
	if len(where) > 0 {
		q = "WHERE " + strings.Join(where, " AND ")
	}
	q += ` ORDER BY CASE WHEN state = 'resolved' THEN 1 ELSE 0 END,
		CASE WHEN state = 'resolved' THEN 0 ELSE CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END END,
		raised_ms DESC LIMIT ?`
	return queryAlarms(ctx, e.st.DB(), q, append(args, f.Limit)...)
}

// ChangesSince returns the changes after seq, oldest first, each with its alarm as it is now:
// what a console that lost its connection missed.
func (e *Engine) ChangesSince(ctx context.Context, seq int64, limit int) ([]Change, error) {
	rows, err := e.st.DB().QueryContext(ctx, `SELECT c.seq, c.kind, c.at_ms, c.actor, c.detail, `+prefixed("a.", alarmCols)+`
		FROM alarm_changes c JOIN alarms a ON a.id = c.alarm_id WHERE c.seq > ? ORDER BY c.seq LIMIT ?`, seq, limit)
	if err != nil {
		return nil, fmt.Errorf("alarm: changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var a Alarm
		var sev, state string
		if err := rows.Scan(&c.Seq, &c.Kind, &c.AtMS, &c.Actor, &c.Detail,
			&a.ID, &a.Site, &a.DeviceID, &a.Family, &a.Type, &sev, &state, &a.TitleZH, &a.TitleEN, &a.Condition,
			&a.Detail, &a.RaisedMS, &a.LastMS, &a.Count, &a.AckBy, &a.AckMS, &a.ResolvedBy, &a.ResolvedMS, &a.Outcome,
			&a.Note, &a.Escalated, &a.EscalatedMS, &a.CancelledMS, &a.AutoCleared, &a.CaseID, &a.CaseState); err != nil {
			return nil, fmt.Errorf("alarm: changes: %w", err)
		}
		a.Severity, a.State = rules.Severity(sev), State(state)
		c.Alarm = a
		out = append(out, c)
	}
	return out, rows.Err()
}

// anythingDue looks, without writing, whether a timer is due or an alarm must escalate.
func (e *Engine) anythingDue(ctx context.Context, now int64) bool {
	e.mu.Lock()
	for _, mt := range e.memTimers {
		if !mt.fired && mt.d.AtMS <= now {
			e.mu.Unlock()
			return true
		}
	}
	e.mu.Unlock()
	var n int
	err := e.st.DB().QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM alarm_timers WHERE at_ms <= ?) +
		(SELECT COUNT(*) FROM alarms WHERE state = 'raised' AND severity = 'critical' AND escalated = 0 AND raised_ms <= ?)`,
		now, now-e.cfg.Rules.EscalateAfter.Milliseconds()).Scan(&n)
	return err != nil || n > 0 // on a read error, let the write path report it
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// Run fires due timers and escalates unacknowledged critical alarms until ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			e.hub.CloseAll()
			return nil
		case <-t.C:
			if err := e.Check(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("alarm timers", "err", err)
			}
		}
	}
}

// Check fires the timers due now and escalates what is overdue. Run calls it on every tick;
// tests call it with an injected clock.
func (e *Engine) Check(ctx context.Context) error {
	now := e.now().UnixMilli()
	if !e.anythingDue(ctx, now) {
		return nil // nothing to write: no transaction, no fsync
	}
	return e.inTx(ctx, func(tx store.Tx, out *[]Change) error {
		var open openAlarms
		// persisted timers (door left open, parcel uncollected)
		rows, err := tx.QueryContext(ctx, `SELECT key, device_id, type, severity, condition, detail FROM alarm_timers WHERE at_ms <= ?`, now)
		if err != nil {
			return fmt.Errorf("alarm: timers: %w", err)
		}
		type due struct{ key, device, typ, sev, cond, detail string }
		var dues []due
		for rows.Next() {
			var d due
			if err := rows.Scan(&d.key, &d.device, &d.typ, &d.sev, &d.cond, &d.detail); err != nil {
				rows.Close()
				return fmt.Errorf("alarm: timers: %w", err)
			}
			dues = append(dues, d)
		}
		rows.Close()
		for _, d := range dues {
			if _, err := tx.ExecContext(ctx, `DELETE FROM alarm_timers WHERE key = ?`, d.key); err != nil {
				return fmt.Errorf("alarm: timers: %w", err)
			}
			fam := ""
			if dev, ok := e.devs.Lookup(d.device); ok {
				fam = string(dev.Family)
			}
			dec := rules.Decision{Op: rules.OpRaise, Type: d.typ, Severity: rules.Severity(d.sev), Condition: d.cond}
			if d.detail != "" {
				if err := json.Unmarshal([]byte(d.detail), &dec.Detail); err != nil {
					return fmt.Errorf("alarm: timer %s detail: %w", d.key, err)
				}
			}
			if err := e.raise(ctx, tx, &open, d.device, fam, dec, now, out); err != nil {
				return err
			}
		}
		// telemetry thresholds
		e.mu.Lock()
		var fire []*memTimer
		for _, mt := range e.memTimers {
			if !mt.fired && mt.d.AtMS <= now {
				mt.fired = true
				fire = append(fire, mt)
			}
		}
		e.mu.Unlock()
		for _, mt := range fire {
			dec := mt.d
			dec.Op = rules.OpRaise
			if err := e.raise(ctx, tx, &open, mt.device, string(mt.family), dec, now, out); err != nil {
				return err
			}
		}
		// escalation of critical alarms nobody acknowledged
		if err := open.flush(ctx, tx); err != nil {
			return err
		}
		over, err := queryAlarms(ctx, tx, `WHERE state = 'raised' AND severity = 'critical' AND escalated = 0 AND raised_ms <= ?`,
			now-e.cfg.Rules.EscalateAfter.Milliseconds())
		if err != nil {
			return err
		}
		for _, a := range over {
			a.Escalated, a.EscalatedMS = true, now
			if err := e.change(ctx, tx, &a, ChangeEscalated, "system", "未在时限内确认 / not acknowledged in time", now, out); err != nil {
				return err
			}
		}
		return nil
	})
}
