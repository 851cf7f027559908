// Package store owns the gateway's SQLite database: one file under the data directory in WAL
// mode with full fsync on commit, its schema and forward migrations, and the records kept in
// it (devices, device state, events). Callers batch many writes into one transaction (group
// commit); a commit returns only once the data is on disk.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Store is the gateway's database.
type Store struct {
	db    *sql.DB
	stmts *stmtCache
}

// Open opens (creating if needed) the database file at path and migrates it forward.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	q := url.Values{}
	// wal_autocheckpoint(0): the checkpoint would otherwise run inside whichever commit
	// crosses 1000 pages, on the ingest writer's critical path; Checkpoints runs it instead.
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)", "wal_autocheckpoint(0)",
		fmt.Sprintf("cache_size(-%d)", smallCacheKiB)} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One writer connection avoids SQLITE_BUSY between our own writers; WAL readers go through
	// the same pool, which is small enough for a 1 GB box.
	db.SetMaxOpenConns(4)
	s := &Store{db: db, stmts: &stmtCache{db: db, m: map[string]*sql.Stmt{}}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Checkpoints copies the write-ahead log into the database file every interval until ctx is
// done, off the path of any writer (a PASSIVE checkpoint never blocks one). Without it the
// log would grow without bound, since automatic checkpoints are off.
func (s *Store) Checkpoints(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_, err := s.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
			return err
		case <-t.C:
			if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)"); err != nil && ctx.Err() == nil {
				return fmt.Errorf("store: checkpoint: %w", err)
			}
		}
	}
}

// Page caches. Every connection keeps a small one: a page SQLite caches costs the gateway
// twice its size (the pure-Go allocator gives a 4 KiB page and its header an 8 KiB slot), on
// top of the kernel's own cache of the file, and SQLite's default is 2 MiB per connection.
//
// The ingest writer's cache follows its load. Each device's newest entries sit on their own
// index pages, so a busy batch from 1,000 devices touches thousands of pages; with a small
// cache the writer re-read them from the file and spilled dirty ones to the log
// mid-transaction (a quarter of its time end to end). So busyRecords written within
// busyWindow give the writer busyCacheKiB, and a minute without that takes it back. The
// measure is a rate, not a batch: a quiet site whose devices report in step writes a thousand
// records in one transaction every few seconds, and that kept the large cache (16 MiB of
// memory, slot overhead included) for a hundred records a second.
const (
	smallCacheKiB = 256
	busyCacheKiB  = 8192
	busyRecords   = 2000
	busyWindow    = 2 * time.Second
	quietAfter    = time.Minute
)

// WriterConn is the connection reserved for one long-lived writer (the ingest pipeline). Its
// transactions use the same prepared statements as the rest (Cached).
type WriterConn struct {
	*sql.Conn
	busy     bool
	lastBusy time.Time
	// records written since windowStart, the start of the current busyWindow
	windowStart time.Time
	windowRecs  int
}

// Writer returns the writer's connection, with the small cache. Close it when the writer stops.
func (s *Store) Writer(ctx context.Context) (*WriterConn, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	return &WriterConn{Conn: c}, nil
}

// Committed tells the writer how many records the transaction it just committed held, at now;
// it grows or gives back the page cache (see busyRecords).
func (w *WriterConn) Committed(ctx context.Context, records int, now time.Time) error {
	if now.Sub(w.windowStart) >= busyWindow {
		w.windowStart, w.windowRecs = now, 0
	}
	w.windowRecs += records
	switch {
	case w.windowRecs >= busyRecords:
		w.lastBusy = now
		if !w.busy {
			return w.size(ctx, true, fmt.Sprintf("PRAGMA cache_size = -%d", busyCacheKiB))
		}
	case w.busy && now.Sub(w.lastBusy) >= quietAfter:
		// a smaller size frees the pages beyond it; shrink_memory frees the rest it can
		return w.size(ctx, false, fmt.Sprintf("PRAGMA cache_size = -%d", smallCacheKiB), "PRAGMA shrink_memory")
	}
	return nil
}

// size runs the pragmas and, once they all ran, records the cache as busy or not (a failure is
// tried again after the next batch).
func (w *WriterConn) size(ctx context.Context, busy bool, pragmas ...string) error {
	for _, q := range pragmas {
		if _, err := w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: writer cache: %w", err)
		}
	}
	w.busy = busy
	return nil
}

// DB is the underlying handle, for packages that keep their own tables in this database.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// migrations are applied in order; the database's user_version is the count applied. Never
// edit one that has shipped: add a new one.
var migrations = []string{
	`CREATE TABLE devices (
		id            TEXT PRIMARY KEY,
		family        TEXT NOT NULL,
		site          TEXT NOT NULL,
		name          TEXT NOT NULL DEFAULT '',
		product_key   TEXT NOT NULL DEFAULT '',
		building      TEXT NOT NULL DEFAULT '',
		unit          TEXT NOT NULL DEFAULT '',
		room          TEXT NOT NULL DEFAULT '',
		grid_code     TEXT NOT NULL DEFAULT '',
		heartbeat_ms  INTEGER NOT NULL DEFAULT 0,
		password_hash TEXT NOT NULL DEFAULT '',
		resident      TEXT NOT NULL DEFAULT '',
		origin        TEXT NOT NULL DEFAULT 'config',
		created_ms    INTEGER NOT NULL,
		updated_ms    INTEGER NOT NULL
	);
	CREATE TABLE device_state (
		device_id    TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
		state        TEXT NOT NULL DEFAULT 'unknown',
		state_ms     INTEGER NOT NULL DEFAULT 0,
		last_seen_ms INTEGER NOT NULL DEFAULT 0,
		battery_pct  REAL,
		rssi_dbm     REAL,
		fw           TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE events (
		seq         INTEGER PRIMARY KEY AUTOINCREMENT,
		device_id   TEXT NOT NULL,
		event_id    TEXT NOT NULL,
		family      TEXT NOT NULL,
		type        TEXT NOT NULL,
		ts_ms       INTEGER NOT NULL,
		received_ms INTEGER NOT NULL,
		data        TEXT NOT NULL DEFAULT '{}',
		UNIQUE (device_id, event_id)
	);
	CREATE INDEX events_by_device ON events (device_id, seq);`,
	// The unique (device_id, event_id) index finds a device's latest events as well (its
	// entries carry the seq), so a second index ordered by device is not written for every
	// event: at a thousand devices each kept its own page dirty in every transaction.
	`DROP INDEX events_by_device;`,
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("store: database schema version %d is newer than this gateway (%d): upgrade the gateway", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migration %d: %w", i+1, err)
		}
	}
	return nil
}

// AddMigrations lets another package that keeps tables in this database append its own
// migrations; see Migrator.
type Migrator struct {
	Name  string   // owner, e.g. "alarm"; its version is kept in schema_versions
	Steps []string // applied in order, never edited once shipped
}

// Migrate applies a package's own migrations, tracking them by name.
func (s *Store) Migrate(ctx context.Context, m Migrator) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE name = ?`, m.Name).Scan(&v)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("store: %s schema version: %w", m.Name, err)
	}
	if v > len(m.Steps) {
		return fmt.Errorf("store: %s schema version %d is newer than this gateway (%d)", m.Name, v, len(m.Steps))
	}
	for i := v; i < len(m.Steps); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", m.Name, err)
		}
		_, err = tx.ExecContext(ctx, m.Steps[i])
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO schema_versions(name, version) VALUES(?, ?)
				ON CONFLICT(name) DO UPDATE SET version = excluded.version`, m.Name, i+1)
		}
		if err != nil {
			tx.Rollback()
			return fmt.Errorf("store: %s migration %d: %w", m.Name, i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: %s migration %d: %w", m.Name, i+1, err)
		}
	}
	return nil
}
