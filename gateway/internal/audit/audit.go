// Package audit owns the gateway's audit log: who did what to which alarm, device, user or
// camera, and when. Entries are written in the same transaction as the change they record, so
// the log never claims a change that did not happen nor misses one that did.
package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/store"
)

// Entry is one audit record.
type Entry struct {
	Seq    int64  `json:"seq"`
	AtMS   int64  `json:"at"`
	Actor  string `json:"actor"`  // user name, token name, or "system"
	Action string `json:"action"` // e.g. alarm.acknowledge, camera.view, user.login
	Target string `json:"target"` // e.g. alarm id, camera id, user name
	Detail string `json:"detail"` // free text or JSON
	Remote string `json:"remote,omitempty"`
}

// Migrations creates the audit table.
var Migrations = store.Migrator{Name: "audit", Steps: []string{`
	CREATE TABLE audit (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		at_ms  INTEGER NOT NULL,
		actor  TEXT NOT NULL,
		action TEXT NOT NULL,
		target TEXT NOT NULL DEFAULT '',
		detail TEXT NOT NULL DEFAULT '',
		remote TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX audit_by_time ON audit (at_ms);
	CREATE INDEX audit_by_target ON audit (target, seq);`}}

// Execer is a *sql.Tx or *sql.DB.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Record writes e; AtMS defaults to now.
func Record(ctx context.Context, x Execer, e Entry) error {
	if e.AtMS == 0 {
		e.AtMS = time.Now().UnixMilli()
	}
	_, err := x.ExecContext(ctx, `INSERT INTO audit(at_ms, actor, action, target, detail, remote) VALUES(?,?,?,?,?,?)`,
		e.AtMS, e.Actor, e.Action, e.Target, e.Detail, e.Remote)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Filter selects entries; zero fields select everything.
type Filter struct {
	FromMS, ToMS int64
	Actor        string
	ActionPrefix string // e.g. "alarm." or "camera."
	Target       string
	Limit        int // default 200, at most 1000
	BeforeSeq    int64
}

// List returns entries newest first.
func List(ctx context.Context, db *sql.DB, f Filter) ([]Entry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.FromMS > 0 {
		add("at_ms >= ?", f.FromMS)
	}
	if f.ToMS > 0 {
		add("at_ms < ?", f.ToMS)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.ActionPrefix != "" {
		add("action LIKE ? ESCAPE '\\'", strings.NewReplacer("%", `\%`, "_", `\_`).Replace(f.ActionPrefix)+"%")
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.BeforeSeq > 0 {
		add("seq < ?", f.BeforeSeq)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	q := `SELECT seq, at_ms, actor, action, target, detail, remote FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY seq DESC LIMIT ?"
	rows, err := db.QueryContext(ctx, q, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.AtMS, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.Remote); err != nil {
			return nil, fmt.Errorf("audit: list: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
