// Package uplink owns the gateway's link to the city's grid case system: a durable outbox in
// the gateway's SQLite, filled in the same transaction that stores an alarm the uplink policy
// selects; a sender that delivers it in order with exponential backoff and jitter, surviving
// restarts and SIGKILL, and stores the case it gets back on the alarm; the long poll that
// brings case progress back over a connection the gateway opens; and supervision of the link
// (heartbeats out, a local uplink_down alarm when the cloud cannot be reached for too long).
package uplink

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/community-edge/edge/cloud/api"
	"github.com/community-edge/edge/gateway/internal/alarm"
	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/devices"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Config configures the uplink.
type Config struct {
	Site      string
	SiteName  string
	GridCode  string           // the site's grid code, for devices without their own
	Policy    []rules.Severity // alarms of these severities are sent; escalated alarms always are
	Heartbeat time.Duration    // default 30s
	DownAfter time.Duration    // no answer for this long raises uplink_down; default 2m
	RetryMin  time.Duration    // first retry delay; default 1s
	RetryMax  time.Duration    // retry delay cap; default 2m
	Version   string
}

// Receipt is what the grid system answered for an alert.
type Receipt struct {
	CaseID string
	State  string
}

// Connector delivers alerts to a grid case system.
type Connector interface {
	// Send delivers one alert. It is called again with the same alert after an error, so the
	// far side must treat the alarm id as an idempotency key.
	Send(ctx context.Context, a api.Alert) (Receipt, error)
	// Retryable reports whether an error may go away by itself.
	Retryable(err error) bool
}

// Link is a connector that also keeps a two-way link: heartbeats and case progress.
type Link interface {
	Connector
	Heartbeat(ctx context.Context, h api.Heartbeat) error
	Updates(ctx context.Context, after int64) (api.Updates, error)
}

// Migrations creates the outbox.
var Migrations = store.Migrator{Name: "uplink", Steps: []string{`
	CREATE TABLE uplink_outbox (
		seq        INTEGER PRIMARY KEY AUTOINCREMENT,
		alarm_id   TEXT NOT NULL,
		reason     TEXT NOT NULL,
		alert      TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		attempts   INTEGER NOT NULL DEFAULT 0,
		next_ms    INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		done_ms    INTEGER NOT NULL DEFAULT 0,
		case_id    TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX uplink_pending ON uplink_outbox (done_ms, seq);
	CREATE INDEX uplink_by_alarm ON uplink_outbox (alarm_id);
	CREATE TABLE uplink_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);`}}

// Uplink is the gateway's side of the grid case system.
type Uplink struct {
	cfg    Config
	st     *store.Store
	alarms *alarm.Engine
	devs   *devices.Registry
	conn   Connector
	log    *slog.Logger
	now    func() time.Time

	wake   chan struct{}
	lastOK atomic.Int64 // Unix ms of the last answer from the far side
	down   atomic.Bool

	sent, failed prometheus.Counter
	pendingG     prometheus.GaugeFunc
	linkUp       prometheus.Gauge
}

// New makes an uplink; it does no I/O.
func New(cfg Config, st *store.Store, alarms *alarm.Engine, devs *devices.Registry, conn Connector, reg prometheus.Registerer, log *slog.Logger) *Uplink {
	if len(cfg.Policy) == 0 {
		cfg.Policy = []rules.Severity{rules.Critical, rules.High}
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	if cfg.DownAfter == 0 {
		cfg.DownAfter = 2 * time.Minute
	}
	if cfg.RetryMin == 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = 2 * time.Minute
	}
	u := &Uplink{cfg: cfg, st: st, alarms: alarms, devs: devs, conn: conn, log: log, now: time.Now,
		wake: make(chan struct{}, 1),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_uplink_sent_total",
			Help: "Alerts the grid case system accepted."}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_uplink_attempts_failed_total",
			Help: "Delivery attempts that failed and will be retried."}),
		linkUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_uplink_up",
			Help: "1 while the grid case system answers."}),
	}
	u.pendingG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_uplink_outbox_pending",
		Help: "Alerts waiting in the outbox."}, func() float64 { n, _ := u.Pending(context.Background()); return float64(n) })
	reg.MustRegister(u.sent, u.failed, u.linkUp, u.pendingG)
	return u
}

// SetClock replaces the clock, for tests.
func (u *Uplink) SetClock(now func() time.Time) { u.now = now }

// Migrate creates or updates the outbox tables.
func (u *Uplink) Migrate(ctx context.Context) error { return u.st.Migrate(ctx, Migrations) }

// AlarmChanged is the alarm engine's outbox hook: inside the transaction that stores the
// change, it queues an alert for an alarm the policy selects, once per alarm.
func (u *Uplink) AlarmChanged(ctx context.Context, tx *sql.Tx, c alarm.Change) error {
	a := c.Alarm
	reason := ""
	switch {
	case c.Kind == alarm.ChangeRaised && slices.Contains(u.cfg.Policy, a.Severity):
		reason = "policy"
	case c.Kind == alarm.ChangeEscalated:
		reason = "escalated"
	default:
		return nil
	}
	if a.DeviceID == alarm.GatewayDevice {
		return nil // the gateway's own alarms (uplink_down) are for the duty staff
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM uplink_outbox WHERE alarm_id = ?`, a.ID).Scan(&n); err != nil {
		return fmt.Errorf("uplink: %w", err)
	}
	if n > 0 {
		return nil // already queued or sent: the grid case system has (or will have) the case
	}
	alert, err := json.Marshal(u.alert(a, reason))
	if err != nil {
		return fmt.Errorf("uplink: %w", err)
	}
	now := u.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO uplink_outbox(alarm_id, reason, alert, created_ms, next_ms) VALUES(?,?,?,?,?)`,
		a.ID, reason, string(alert), now, now); err != nil {
		return fmt.Errorf("uplink: queue %s: %w", a.ID, err)
	}
	return nil // the sender is woken by Committed, once this transaction is on disk
}

// Committed is the alarm engine's listener: changes are on disk, so a queued alert can be read
// by the sender now. (Waking it from AlarmChanged would race the commit.)
func (u *Uplink) Committed(cs []alarm.Change) {
	for _, c := range cs {
		if c.Kind == alarm.ChangeRaised || c.Kind == alarm.ChangeEscalated {
			select {
			case u.wake <- struct{}{}:
			default:
			}
			return
		}
	}
}

// medical alarm types: only these carry the resident's medical notes to the city.
var medical = []string{rules.TypeSOS, rules.TypeFall, rules.TypeInactivity}

// alert builds what the grid case system needs to act: category inputs, location, and the
// minimum resident details.
func (u *Uplink) alert(a alarm.Alarm, reason string) api.Alert {
	al := api.Alert{AlarmID: a.ID, Type: a.Type, Family: a.Family, Device: a.DeviceID, Site: u.cfg.Site,
		GridCode: u.cfg.GridCode, OccurredAt: time.UnixMilli(a.RaisedMS).UTC(), Address: u.cfg.SiteName,
		Description: a.TitleZH + " / " + a.TitleEN}
	if a.Severity == rules.Critical || reason == "escalated" {
		al.Priority = api.Urgent
	}
	var det map[string]any
	if a.Detail != "" && json.Unmarshal([]byte(a.Detail), &det) == nil {
		if code, ok := det["code"].(string); ok {
			al.Code = code
		}
		al.Description += " " + a.Detail
	}
	if reason == "escalated" {
		al.Description += " (值班人员未在时限内确认 / not acknowledged in time)"
	}
	d, ok := u.devs.Lookup(a.DeviceID)
	if !ok {
		return al
	}
	if d.GridCode != "" {
		al.GridCode = d.GridCode
	}
	unit := strings.Trim(strings.Join([]string{d.Location.Building, d.Location.Unit, d.Location.Room}, "-"), "-")
	if unit != "" {
		al.Address = strings.TrimSpace(u.cfg.SiteName + " " + d.Location.Building + "号楼" + d.Location.Unit + "单元" + d.Location.Room + "室")
	}
	if r := d.Resident; r != nil {
		res := &api.Resident{Name: r.Name, Phone: r.Phone, Unit: unit}
		if len(r.EmergencyContacts) > 0 {
			res.Contact, res.ContactPhone = r.EmergencyContacts[0].Name, r.EmergencyContacts[0].Phone
		}
		if slices.Contains(medical, a.Type) {
			res.MedicalNotes = r.MedicalNotes
		}
		al.Resident = res
	}
	return al
}

// Pending counts the alerts not yet delivered.
func (u *Uplink) Pending(ctx context.Context) (int, error) {
	var n int
	err := u.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM uplink_outbox WHERE done_ms = 0`).Scan(&n)
	return n, err
}

// Run delivers the outbox, and for a Link also sends heartbeats and follows case progress,
// until ctx is done.
func (u *Uplink) Run(ctx context.Context) error {
	u.lastOK.Store(u.now().UnixMilli())
	done := make(chan struct{})
	n := 1
	go func() { u.supervise(ctx); done <- struct{}{} }()
	if l, ok := u.conn.(Link); ok {
		n += 2
		go func() { u.heartbeats(ctx, l); done <- struct{}{} }()
		go func() { u.follow(ctx, l); done <- struct{}{} }()
	}
	u.deliver(ctx)
	for ; n > 0; n-- {
		<-done
	}
	return nil
}

func (u *Uplink) answered() {
	u.lastOK.Store(u.now().UnixMilli())
}

// deliver sends due outbox entries in order until ctx is done.
func (u *Uplink) deliver(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		case <-timer.C:
		}
		next := u.deliverDue(ctx)
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

type entry struct {
	seq      int64
	alarmID  string
	alert    string
	attempts int
	nextMS   int64
}

// deliverDue sends what is due and returns how long until the next entry is.
func (u *Uplink) deliverDue(ctx context.Context) time.Duration {
	rows, err := u.st.DB().QueryContext(ctx, `SELECT seq, alarm_id, alert, attempts, next_ms FROM uplink_outbox
		WHERE done_ms = 0 ORDER BY seq LIMIT 100`)
	if err != nil {
		u.log.Error("reading the uplink outbox", "err", err)
		return 5 * time.Second
	}
	var es []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.seq, &e.alarmID, &e.alert, &e.attempts, &e.nextMS); err == nil {
			es = append(es, e)
		}
	}
	rows.Close()
	wait := 5 * time.Second      // a safety net: new entries wake the sender at once
	blocked := map[string]bool{} // an alarm whose earlier entry is not through waits for it
	for _, e := range es {
		if ctx.Err() != nil {
			return wait
		}
		now := u.now().UnixMilli()
		if blocked[e.alarmID] {
			continue
		}
		if e.nextMS > now {
			blocked[e.alarmID] = true
			wait = min(wait, time.Duration(e.nextMS-now)*time.Millisecond)
			continue
		}
		if err := u.send(ctx, e); err != nil {
			blocked[e.alarmID] = true
			wait = min(wait, u.backoff(e.attempts+1))
		}
	}
	return max(wait, 10*time.Millisecond)
}

// backoff is the delay before attempt n+1: exponential from RetryMin, capped at RetryMax,
// with ±25 % jitter so a city's gateways do not retry in step.
func (u *Uplink) backoff(attempts int) time.Duration {
	d := u.cfg.RetryMin << min(attempts-1, 20)
	if d > u.cfg.RetryMax || d <= 0 {
		d = u.cfg.RetryMax
	}
	return time.Duration(float64(d) * (0.75 + rand.Float64()/2))
}

func (u *Uplink) send(ctx context.Context, e entry) error {
	var al api.Alert
	if err := json.Unmarshal([]byte(e.alert), &al); err != nil {
		return fmt.Errorf("uplink: outbox entry %d: %w", e.seq, err)
	}
	rec, err := u.conn.Send(ctx, al)
	now := u.now()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		if u.conn.Retryable(err) {
			u.log.Warn("alert not delivered; will retry", "alarm", e.alarmID, "attempt", e.attempts+1, "err", err)
		} else {
			u.log.Error("alert refused by the grid case system; retrying slowly: check the uplink configuration", "alarm", e.alarmID, "attempt", e.attempts+1, "err", err)
		}
		if !u.conn.Retryable(err) {
			u.answered() // the grid system itself refused (4xx): it is reachable. A 5xx may come
			// from a proxy in front of a system that is down, so it does not count.
		}
		u.failed.Inc()
		delay := u.backoff(e.attempts + 1)
		if !u.conn.Retryable(err) {
			delay = u.cfg.RetryMax
		}
		_, uerr := u.st.DB().ExecContext(ctx, `UPDATE uplink_outbox SET attempts = attempts + 1, next_ms = ?, last_error = ? WHERE seq = ?`,
			now.Add(delay).UnixMilli(), truncate(err.Error(), 500), e.seq)
		if uerr != nil {
			u.log.Error("updating the uplink outbox", "err", uerr)
		}
		return err
	}
	u.answered()
	u.sent.Inc()
	if _, err := u.st.DB().ExecContext(ctx, `UPDATE uplink_outbox SET attempts = attempts + 1, done_ms = ?, case_id = ?, last_error = '' WHERE seq = ?`,
		now.UnixMilli(), rec.CaseID, e.seq); err != nil {
		// Not marked done: it is sent again, and the alarm id makes the repeat return the same case.
		return fmt.Errorf("uplink: %w", err)
	}
	if rec.CaseID != "" {
		if err := u.alarms.SetCase(ctx, e.alarmID, rec.CaseID, rec.State, ""); err != nil && !errors.Is(err, alarm.ErrNotFound) {
			u.log.Error("storing the case on the alarm", "alarm", e.alarmID, "err", err)
		}
	}
	u.log.Info("alert delivered", "alarm", e.alarmID, "case", rec.CaseID, "attempts", e.attempts+1)
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// supervise raises uplink_down when the far side has not answered for DownAfter, and clears
// it once it answers again.
func (u *Uplink) supervise(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		silent := time.Duration(u.now().UnixMilli()-u.lastOK.Load()) * time.Millisecond
		switch {
		case silent > u.cfg.DownAfter && !u.down.Load():
			u.linkUp.Set(0)
			if err := u.alarms.RaiseLocal(ctx, rules.TypeUplinkDown, rules.High, "uplink",
				map[string]any{"silent_s": int(silent.Seconds())}); err != nil {
				u.log.Error("raising uplink_down", "err", err)
				continue
			}
			u.down.Store(true)
			u.log.Warn("grid case system unreachable: raised uplink_down; alerts stay queued", "silent", silent.Round(time.Second))
		case silent <= u.cfg.DownAfter && u.down.Load():
			if err := u.alarms.ClearLocal(ctx, "uplink"); err != nil {
				u.log.Error("clearing uplink_down", "err", err)
				continue
			}
			u.down.Store(false)
			u.linkUp.Set(1)
			u.log.Info("grid case system reachable again: cleared uplink_down")
		case silent <= u.cfg.DownAfter:
			u.linkUp.Set(1)
		}
	}
}

func (u *Uplink) heartbeats(ctx context.Context, l Link) {
	t := time.NewTicker(u.cfg.Heartbeat)
	defer t.Stop()
	for {
		pending, _ := u.Pending(ctx)
		hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := l.Heartbeat(hctx, api.Heartbeat{IntervalS: int(u.cfg.Heartbeat.Seconds()), Version: u.cfg.Version,
			OutboxPending: pending, SentAt: u.now().UTC()})
		cancel()
		if err == nil {
			u.answered()
		} else if ctx.Err() == nil {
			u.log.Debug("heartbeat failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// follow long-polls case progress and records it on the alarms.
func (u *Uplink) follow(ctx context.Context, l Link) {
	cursor := u.cursor(ctx)
	failures := 0
	for ctx.Err() == nil {
		ups, err := l.Updates(ctx, cursor)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			select {
			case <-ctx.Done():
				return
			case <-time.After(u.backoff(failures)):
			}
			continue
		}
		failures = 0
		u.answered()
		for _, up := range ups.Updates {
			detail := up.Event.Action
			if up.Department != "" {
				detail += " " + up.Department
			}
			if up.Event.Note != "" {
				detail += " " + up.Event.Note
			}
			err := u.alarms.SetCase(ctx, up.AlarmID, strconv.FormatInt(up.CaseID, 10), string(up.State), detail)
			if err != nil && !errors.Is(err, alarm.ErrNotFound) {
				u.log.Error("recording case progress", "alarm", up.AlarmID, "err", err)
				break // keep the cursor: try again
			}
			cursor = up.Seq
		}
		if ups.Next > cursor && len(ups.Updates) == 0 {
			cursor = ups.Next
		}
		u.saveCursor(ctx, cursor)
	}
}

func (u *Uplink) cursor(ctx context.Context) int64 {
	var v string
	if err := u.st.DB().QueryRowContext(ctx, `SELECT value FROM uplink_state WHERE key = 'updates_cursor'`).Scan(&v); err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n
}

func (u *Uplink) saveCursor(ctx context.Context, c int64) {
	if _, err := u.st.DB().ExecContext(ctx, `INSERT INTO uplink_state(key, value) VALUES('updates_cursor', ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(c, 10)); err != nil && ctx.Err() == nil {
		u.log.Error("saving the case-progress cursor", "err", err)
	}
}
