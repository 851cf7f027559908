package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	_ "modernc.org/sqlite" // the pure-Go "sqlite" driver, as the store uses
)

// Snapshot copies the database at dbPath into a new file at out while other connections
// (the running gateway) keep writing: VACUUM INTO reads the whole database inside one read
// transaction, so the copy is the state of one commit, never a mix. The copy is a
// self-contained file (rollback journal, no -wal beside it) checked with integrity_check.
func Snapshot(ctx context.Context, dbPath, out string) error {
	if _, err := os.Stat(dbPath); err != nil {
		return fmt.Errorf("backup: database: %w", err)
	}
	// mode=rw: never create an empty database where the gateway's should be.
	db, err := openDB(dbPath, "rw")
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
		return fmt.Errorf("backup: snapshot of %s: %w", dbPath, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	snap, err := openDB(out, "rw")
	if err != nil {
		return err
	}
	defer snap.Close()
	if _, err := snap.ExecContext(ctx, "PRAGMA journal_mode=DELETE"); err != nil {
		return fmt.Errorf("backup: snapshot: %w", err)
	}
	if err := IntegrityCheck(ctx, snap); err != nil {
		return fmt.Errorf("backup: the snapshot fails its check: %w", err)
	}
	if err := snap.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncFile(out)
}

func openDB(path, mode string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("mode", mode)
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("backup: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// IntegrityCheck runs PRAGMA integrity_check and returns its findings as an error.
func IntegrityCheck(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("integrity_check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("integrity_check: %s", strings.Join(problems, "; "))
	}
	return nil
}

// ReadCounts counts what a database holds and reads its schema versions; tables a package
// has not made yet count as empty.
func ReadCounts(ctx context.Context, db *sql.DB) (Counts, map[string]int, error) {
	tables := map[string]bool{}
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table'")
	if err != nil {
		return Counts{}, nil, fmt.Errorf("backup: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return Counts{}, nil, fmt.Errorf("backup: %w", err)
		}
		tables[n] = true
	}
	rows.Close()
	var c Counts
	var errs []error
	count := func(dst *int64, table, where string) {
		if !tables[table] {
			return
		}
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" "+where).Scan(dst); err != nil {
			errs = append(errs, fmt.Errorf("count %s: %w", table, err))
		}
	}
	count(&c.Devices, "devices", "")
	count(&c.Users, "users", "")
	count(&c.Alarms, "alarms", "")
	count(&c.OpenAlarms, "alarms", "WHERE state != 'resolved'")
	count(&c.Events, "events", "")
	schema := map[string]int{}
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		errs = append(errs, err)
	}
	schema["store"] = v
	if tables["schema_versions"] {
		rows, err := db.QueryContext(ctx, "SELECT name, version FROM schema_versions")
		if err != nil {
			errs = append(errs, err)
		} else {
			for rows.Next() {
				var n string
				if err := rows.Scan(&n, &v); err != nil {
					errs = append(errs, err)
					break
				}
				schema[n] = v
			}
			rows.Close()
		}
	}
	if err := errors.Join(errs...); err != nil {
		return c, schema, fmt.Errorf("backup: reading the database: %w", err)
	}
	return c, schema, nil
}
