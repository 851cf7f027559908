// Package store keeps the cloud's state — gateways and their keys, cases, the case timeline,
// the timeliness evaluations, users and sessions — in SQLite (the default, pure Go) or
// PostgreSQL (pgx) behind one type. Both run the same schema and migrations (in code, see
// Migrate) and the same queries; the test suite runs against both.
//
// Each case's timeline entries carry a per-gateway sequence number taken by incrementing the
// gateway's row inside the writing transaction, so a gateway's entries commit in sequence order
// and the long-poll cursor never skips one.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // registers the "sqlite" database/sql driver

	"github.com/community-edge/edge/cloud/api"
)

// Errors. Test with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("changed concurrently")
	ErrExists   = errors.New("already exists")
)

// Options say which database to open.
type Options struct {
	Driver string // "sqlite" or "postgres"
	Path   string // sqlite: the database file
	DSN    string // postgres: a pgx connection string
}

// Store is the cloud's database. It is safe for concurrent use.
type Store struct {
	d dialect
	w *sql.DB // writes (SQLite: one connection, so writers queue instead of failing busy)
	r *sql.DB // reads (SQLite: a separate pool reading the WAL concurrently; PostgreSQL: w)

	intake intakeQueue
}

// Open opens the database. It does not change the schema: call Migrate.
func Open(ctx context.Context, o Options) (*Store, error) {
	switch o.Driver {
	case "sqlite":
		if o.Path == "" {
			return nil, errors.New("store: sqlite: path is required")
		}
		pragmas := "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"
		dsn := "file:" + (&url.URL{Path: o.Path}).EscapedPath() + pragmas
		w, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("store: sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		// The first connection sets WAL mode on the file before the readers open it.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("store: sqlite: open %s: %w", o.Path, err)
		}
		r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)")
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("store: sqlite: %w", err)
		}
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(4)
		return &Store{d: sqliteDialect, w: w, r: r, intake: intakeQueue{lanes: 1}}, nil
	case "postgres":
		db, err := sql.Open("pgx", o.DSN)
		if err != nil {
			return nil, fmt.Errorf("store: postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		db.SetMaxIdleConns(16)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("store: postgres: connect: %w", err)
		}
		return &Store{d: postgresDialect, w: db, r: db, intake: intakeQueue{lanes: 8}}, nil
	}
	return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", o.Driver)
}

// Driver names the database in use.
func (s *Store) Driver() string { return s.d.name }

// Close closes the database.
func (s *Store) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

func (s *Store) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return s.w.ExecContext(ctx, s.d.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.r.QueryContext(ctx, s.d.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.r.QueryRowContext(ctx, s.d.rebind(q), args...)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isUnique reports whether err is a unique-constraint violation in either database.
func isUnique(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint failed") || strings.Contains(m, "SQLSTATE 23505")
}

// ---- gateways ----

// Gateway is a registered gateway. Key is its HMAC key.
type Gateway struct {
	ID            string
	Name          string
	Key           []byte
	Created       time.Time
	Disabled      bool
	LastSeen      time.Time // zero: never
	HeartbeatS    int
	Link          string // never, online, offline
	Version       string
	OutboxPending int
}

// AddGateway registers a gateway.
func (s *Store) AddGateway(ctx context.Context, g Gateway) error {
	_, err := s.exec(ctx, `INSERT INTO gateways (id, name, key, created_ms) VALUES (?, ?, ?, ?)`, g.ID, g.Name, g.Key, ms(g.Created))
	if isUnique(err) {
		return fmt.Errorf("store: gateway %s: %w", g.ID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: add gateway: %w", err)
	}
	return nil
}

// GatewayKey returns the key of an enabled gateway, or ErrNotFound.
func (s *Store) GatewayKey(ctx context.Context, id string) ([]byte, error) {
	var key []byte
	err := s.queryRow(ctx, `SELECT key FROM gateways WHERE id = ? AND disabled = 0`, id).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: gateway %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: gateway key: %w", err)
	}
	return key, nil
}

// SetGatewayDisabled disables or enables a gateway.
func (s *Store) SetGatewayDisabled(ctx context.Context, id string, disabled bool) error {
	res, err := s.exec(ctx, `UPDATE gateways SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
	if err != nil {
		return fmt.Errorf("store: disable gateway: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: gateway %s: %w", id, ErrNotFound)
	}
	return nil
}

// Gateways lists every gateway (without keys), by name.
func (s *Store) Gateways(ctx context.Context) ([]Gateway, error) {
	rows, err := s.query(ctx, `SELECT id, name, created_ms, disabled, last_seen_ms, heartbeat_s, link, sw_version, outbox_pending
		FROM gateways ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("store: gateways: %w", err)
	}
	defer rows.Close()
	var out []Gateway
	for rows.Next() {
		var g Gateway
		var created, seen int64
		var disabled int
		if err := rows.Scan(&g.ID, &g.Name, &created, &disabled, &seen, &g.HeartbeatS, &g.Link, &g.Version, &g.OutboxPending); err != nil {
			return nil, fmt.Errorf("store: gateways: %w", err)
		}
		g.Created, g.Disabled = fromMS(created), disabled != 0
		if seen != 0 {
			g.LastSeen = fromMS(seen)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: gateways: %w", err)
	}
	return out, nil
}

// Heartbeat records a heartbeat: last contact, interval, and the link online. It reports
// whether the link was not online before.
func (s *Store) Heartbeat(ctx context.Context, id string, at time.Time, h api.Heartbeat) (cameOnline bool, err error) {
	var prev string
	err = s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT link FROM gateways WHERE id = ?`), id).Scan(&prev); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE gateways SET last_seen_ms = ?, heartbeat_s = ?, link = 'online', sw_version = ?, outbox_pending = ? WHERE id = ?`),
			ms(at), h.IntervalS, clip(h.Version, 64), h.OutboxPending, id)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: heartbeat: %w", err)
	}
	return prev != "online", nil
}

// MarkOffline sets the link of every online gateway whose last contact is older than three of
// its heartbeat intervals (defaultS when it never sent one) to offline, and returns their ids.
func (s *Store) MarkOffline(ctx context.Context, now time.Time, defaultS int) ([]string, error) {
	rows, err := s.w.QueryContext(ctx, s.d.rebind(`UPDATE gateways SET link = 'offline'
		WHERE link = 'online' AND last_seen_ms + 3000 * (CASE WHEN heartbeat_s > 0 THEN heartbeat_s ELSE ? END) < ?
		RETURNING id`), defaultS, ms(now))
	if err != nil {
		return nil, fmt.Errorf("store: mark offline: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: mark offline: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: mark offline: %w", err)
	}
	return ids, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ---- cases ----

// nextSeq takes the gateway's next timeline sequence number, locking its row until commit,
// and records the contact.
func (s *Store) nextSeq(ctx context.Context, tx *sql.Tx, gatewayID string) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, s.d.rebind(`UPDATE gateways SET seq = seq + 1 WHERE id = ? RETURNING seq`), gatewayID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("gateway %s: %w", gatewayID, ErrNotFound)
	}
	return seq, err
}

func (s *Store) insertEvent(ctx context.Context, tx *sql.Tx, gatewayID string, ev api.CaseEvent) error {
	seq, err := s.nextSeq(ctx, tx, gatewayID)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO case_events
		(case_id, gateway_id, seq, action, from_state, to_state, at_ms, actor, role, department, note, late)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.CaseID, gatewayID, seq, ev.Action, string(ev.From), string(ev.To), ms(ev.At), ev.Actor, ev.Role, ev.Department, ev.Note, boolInt(ev.Late))
	return err
}

// caseColumns are the indexed copies of a case's fields; the whole case is in doc.
func caseColumns(c api.Case) (doc []byte, due any, err error) {
	if c.Due != nil {
		due = ms(*c.Due)
	}
	doc, err = json.Marshal(c)
	return doc, due, err
}

// CreateCase stores the case made from a new alert, with its first timeline entry, unless
// the gateway already reported that alarm: then it returns the stored case and created false.
//
// Concurrent calls are committed together (group commit): a caller that finds a free lane
// leads, writes its case and every queued one in one transaction and hands the lead to the
// next waiter, so one fsync serves many alerts and no goroutine outlives its call.
func (s *Store) CreateCase(ctx context.Context, c api.Case, ev api.CaseEvent) (api.Case, bool, error) {
	if old, err := s.CaseByAlarm(ctx, c.GatewayID, c.AlarmID); err == nil {
		return old, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return api.Case{}, false, err
	}
	req := &intakeReq{c: c, ev: ev, done: make(chan intakeRes, 1)}
	q := &s.intake
	q.mu.Lock()
	lead := q.leaders < q.lanes
	if lead {
		q.leaders++
	} else {
		q.queue = append(q.queue, req)
	}
	q.mu.Unlock()
	for {
		if lead {
			s.leadBatch(context.WithoutCancel(ctx), req)
		}
		res := <-req.done
		if !res.lead {
			return res.c, res.created, res.err
		}
		lead = true
	}
}

type intakeReq struct {
	c    api.Case
	ev   api.CaseEvent
	done chan intakeRes
}

type intakeRes struct {
	c       api.Case
	created bool
	err     error
	lead    bool // the receiver now leads a batch, its own request first
}

// intakeQueue is the group-commit queue of CreateCase: up to lanes batches are written at
// once (SQLite has one writer; PostgreSQL gains from a few).
type intakeQueue struct {
	mu      sync.Mutex
	queue   []*intakeReq
	leaders int
	lanes   int
}

const maxBatch = 256

// leadBatch writes first and what is queued behind it, answers them, and passes the lead to
// the next waiter (or gives up its lane).
func (s *Store) leadBatch(ctx context.Context, first *intakeReq) {
	q := &s.intake
	q.mu.Lock()
	n := min(len(q.queue), maxBatch-1)
	batch := append([]*intakeReq{first}, q.queue[:n]...)
	q.queue = q.queue[n:]
	q.mu.Unlock()

	results := s.writeBatch(ctx, batch)
	if results == nil {
		// One bad alert (an unknown gateway, say) fails the whole transaction: write each alone.
		results = make([]intakeRes, len(batch))
		for i, r := range batch {
			results[i] = s.writeBatch(ctx, []*intakeReq{r})[0]
		}
	}
	for i, r := range batch {
		r.done <- results[i]
	}
	q.mu.Lock()
	if len(q.queue) > 0 {
		next := q.queue[0]
		q.queue = q.queue[1:]
		next.done <- intakeRes{lead: true}
	} else {
		q.leaders--
	}
	q.mu.Unlock()
}

// writeBatch writes a batch in one transaction. For a batch of several it returns nil when
// the transaction failed; for one, the error in its result.
func (s *Store) writeBatch(ctx context.Context, batch []*intakeReq) []intakeRes {
	// Lock gateway rows in one order, so that two writers never wait on each other in a cycle.
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return batch[order[a]].c.GatewayID < batch[order[b]].c.GatewayID })
	results := make([]intakeRes, len(batch))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, i := range order {
			c, created, err := s.insertCase(ctx, tx, batch[i].c, batch[i].ev)
			if err != nil {
				return err
			}
			results[i] = intakeRes{c: c, created: created}
		}
		return nil
	})
	if err != nil {
		if len(batch) > 1 {
			return nil
		}
		return []intakeRes{{err: fmt.Errorf("store: create case: %w", err)}}
	}
	for i := range results {
		if !results[i].created {
			c := batch[i].c
			results[i].c, results[i].err = s.caseWhere(ctx, s.r, `gateway_id = ? AND alarm_id = ?`, c.GatewayID, c.AlarmID)
		}
	}
	return results
}

// insertCase inserts one case and its first timeline entry, or nothing if the alarm is known.
func (s *Store) insertCase(ctx context.Context, tx *sql.Tx, c api.Case, ev api.CaseEvent) (api.Case, bool, error) {
	// Lock the gateway row first: concurrent reports of the same alarm queue here.
	var gw string
	err := tx.QueryRowContext(ctx, s.d.rebind(`UPDATE gateways SET last_seen_ms = ? WHERE id = ? RETURNING id`), ms(c.ReportedAt), c.GatewayID).Scan(&gw)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, fmt.Errorf("gateway %s: %w", c.GatewayID, ErrNotFound)
	}
	if err != nil {
		return c, false, err
	}
	c.ID = 0
	doc, due, err := caseColumns(c)
	if err != nil {
		return c, false, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, s.d.rebind(`INSERT INTO cases
		(gateway_id, alarm_id, state, priority, grid_code, class, subclass, department, due_ms, reported_ms, updated_ms, version, doc)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (gateway_id, alarm_id) DO NOTHING RETURNING id`),
		c.GatewayID, c.AlarmID, string(c.State), string(c.Priority), c.GridCode, c.Category.Class, c.Category.Subclass,
		c.Department, due, ms(c.ReportedAt), ms(c.UpdatedAt), c.Version, doc).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil // reported meanwhile
	}
	if err != nil {
		return c, false, err
	}
	c.ID, ev.CaseID = id, id
	return c, true, s.insertEvent(ctx, tx, c.GatewayID, ev)
}

type queryRower interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *Store) caseWhere(ctx context.Context, db queryRower, where string, args ...any) (api.Case, error) {
	var id, version int64
	var doc string
	err := db.QueryRowContext(ctx, s.d.rebind(`SELECT id, version, doc FROM cases WHERE `+where), args...).Scan(&id, &version, &doc)
	if errors.Is(err, sql.ErrNoRows) {
		return api.Case{}, fmt.Errorf("store: case: %w", ErrNotFound)
	}
	if err != nil {
		return api.Case{}, fmt.Errorf("store: case: %w", err)
	}
	return decodeCase(id, version, doc)
}

func decodeCase(id, version int64, doc string) (api.Case, error) {
	var c api.Case
	if err := json.Unmarshal([]byte(doc), &c); err != nil {
		return api.Case{}, fmt.Errorf("store: case %d: %w", id, err)
	}
	c.ID, c.Version = id, version
	return c, nil
}

// Case returns a case by id.
func (s *Store) Case(ctx context.Context, id int64) (api.Case, error) {
	return s.caseWhere(ctx, s.r, `id = ?`, id)
}

// CaseByAlarm returns the case of a gateway's alarm.
func (s *Store) CaseByAlarm(ctx context.Context, gatewayID, alarmID string) (api.Case, error) {
	return s.caseWhere(ctx, s.r, `gateway_id = ? AND alarm_id = ?`, gatewayID, alarmID)
}

// Change is what a transition function returns.
type Change struct {
	Case  api.Case
	Event api.CaseEvent
}

// Transition loads case id, passes it to fn and stores the changed case and its timeline
// entry in one transaction, provided nobody changed the case meanwhile (it retries fn a few
// times if they did). An error of fn is returned as it is.
func (s *Store) Transition(ctx context.Context, id int64, fn func(api.Case) (Change, error)) (Change, error) {
	for attempt := 0; ; attempt++ {
		c, err := s.caseWhere(ctx, s.w, `id = ?`, id)
		if err != nil {
			return Change{}, err
		}
		ch, err := fn(c)
		if err != nil {
			return Change{}, err
		}
		ch.Event.CaseID = id
		err = s.tx(ctx, func(tx *sql.Tx) error {
			doc, due, err := caseColumns(ch.Case)
			if err != nil {
				return err
			}
			// The timeline entry first: it locks the gateway row, which orders this
			// gateway's writers.
			if err := s.insertEvent(ctx, tx, c.GatewayID, ch.Event); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE cases SET state = ?, priority = ?, department = ?, due_ms = ?,
				updated_ms = ?, version = ?, doc = ? WHERE id = ? AND version = ?`),
				string(ch.Case.State), string(ch.Case.Priority), ch.Case.Department, due, ms(ch.Case.UpdatedAt),
				ch.Case.Version, doc, id, c.Version)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return ErrConflict
			}
			if ch.Case.State == api.Closed && ch.Case.Evaluation != nil {
				for _, t := range ch.Case.Evaluation.Timeliness {
					if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO timeliness (case_id, department, steps, late, closed_ms) VALUES (?, ?, ?, ?, ?)`),
						id, t.Department, t.Steps, t.Late, ms(ch.Event.At)); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if errors.Is(err, ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return Change{}, fmt.Errorf("store: case %d: %w", id, err)
		}
		return ch, nil
	}
}

// CaseFilter selects cases. Zero fields select everything.
type CaseFilter struct {
	State      api.State
	Priority   api.Priority
	Class      string
	GridPrefix string
	GatewayID  string
	Department string
	Overdue    bool      // only cases whose pending step is past due at Now
	Active     bool      // only cases not yet closed
	Now        time.Time // for Overdue
	BeforeID   int64     // paging: cases with a smaller id
	Limit      int       // default 100, at most 500
}

// Cases lists cases, newest first.
func (s *Store) Cases(ctx context.Context, f CaseFilter) ([]api.Case, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.State != "" {
		add("state = ?", string(f.State))
	}
	if f.Priority != "" {
		add("priority = ?", string(f.Priority))
	}
	if f.Class != "" {
		add("class = ?", f.Class)
	}
	if f.GridPrefix != "" {
		add("grid_code LIKE ?", escapeLike(f.GridPrefix)+"%")
	}
	if f.GatewayID != "" {
		add("gateway_id = ?", f.GatewayID)
	}
	if f.Department != "" {
		add("department = ?", f.Department)
	}
	if f.Overdue {
		add("due_ms < ?", ms(f.Now))
	}
	if f.Overdue || f.Active {
		where = append(where, "state NOT IN ('parked', 'closed', 'evaluated')")
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 500)
	q := `SELECT id, version, doc FROM cases`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: cases: %w", err)
	}
	defer rows.Close()
	out := []api.Case{}
	for rows.Next() {
		var id, version int64
		var doc string
		if err := rows.Scan(&id, &version, &doc); err != nil {
			return nil, fmt.Errorf("store: cases: %w", err)
		}
		c, err := decodeCase(id, version, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: cases: %w", err)
	}
	return out, nil
}

// escapeLike keeps only digits: grid codes are digits, so nothing needs escaping.
func escapeLike(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

const eventColumns = `e.seq, e.case_id, e.action, e.from_state, e.to_state, e.at_ms, e.actor, e.role, e.department, e.note, e.late`

func scanEvent(sc interface{ Scan(...any) error }, extra ...any) (api.CaseEvent, error) {
	var ev api.CaseEvent
	var from, to string
	var at int64
	var late int
	dest := append([]any{&ev.Seq, &ev.CaseID, &ev.Action, &from, &to, &at, &ev.Actor, &ev.Role, &ev.Department, &ev.Note, &late}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return ev, err
	}
	ev.From, ev.To, ev.At, ev.Late = api.State(from), api.State(to), fromMS(at), late != 0
	return ev, nil
}

// Timeline returns a case's timeline, oldest first.
func (s *Store) Timeline(ctx context.Context, caseID int64) ([]api.CaseEvent, error) {
	rows, err := s.query(ctx, `SELECT `+eventColumns+` FROM case_events e WHERE e.case_id = ? ORDER BY e.id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	defer rows.Close()
	out := []api.CaseEvent{}
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("store: timeline: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: timeline: %w", err)
	}
	return out, nil
}

// Updates returns up to limit timeline entries of the gateway's cases with a sequence number
// above after, oldest first.
func (s *Store) Updates(ctx context.Context, gatewayID string, after int64, limit int) ([]api.CaseUpdate, error) {
	rows, err := s.query(ctx, `SELECT `+eventColumns+`, c.alarm_id, c.department FROM case_events e
		JOIN cases c ON c.id = e.case_id
		WHERE e.gateway_id = ? AND e.seq > ? ORDER BY e.seq LIMIT `+fmt.Sprint(max(1, min(limit, 1000))), gatewayID, after)
	if err != nil {
		return nil, fmt.Errorf("store: updates: %w", err)
	}
	defer rows.Close()
	out := []api.CaseUpdate{}
	for rows.Next() {
		var u api.CaseUpdate
		ev, err := scanEvent(rows, &u.AlarmID, &u.Department)
		if err != nil {
			return nil, fmt.Errorf("store: updates: %w", err)
		}
		u.Seq, u.CaseID, u.Event, u.State = ev.Seq, ev.CaseID, ev, ev.To
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: updates: %w", err)
	}
	return out, nil
}

// DepartmentTimeliness is the timeliness of one department over all closed cases.
type DepartmentTimeliness struct {
	Department  string `json:"department"`
	Cases       int    `json:"cases"`
	OnTimeCases int    `json:"on_time_cases"`
	Steps       int    `json:"steps"`
	LateSteps   int    `json:"late_steps"`
}

// Timeliness sums the evaluations made at close, per department, for cases closed in
// [from, to).
func (s *Store) Timeliness(ctx context.Context, from, to time.Time) ([]DepartmentTimeliness, error) {
	rows, err := s.query(ctx, `SELECT department, COUNT(*), SUM(CASE WHEN late = 0 THEN 1 ELSE 0 END), SUM(steps), SUM(late)
		FROM timeliness WHERE closed_ms >= ? AND closed_ms < ? GROUP BY department ORDER BY department`, ms(from), ms(to))
	if err != nil {
		return nil, fmt.Errorf("store: timeliness: %w", err)
	}
	defer rows.Close()
	out := []DepartmentTimeliness{}
	for rows.Next() {
		var d DepartmentTimeliness
		if err := rows.Scan(&d.Department, &d.Cases, &d.OnTimeCases, &d.Steps, &d.LateSteps); err != nil {
			return nil, fmt.Errorf("store: timeliness: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: timeliness: %w", err)
	}
	return out, nil
}
