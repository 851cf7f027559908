package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/community-edge/edge/gateway/internal/alarm/rules"
	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Migrations creates the alarm tables.
var Migrations = store.Migrator{Name: "alarm", Steps: []string{`
	CREATE TABLE alarms (
		seq          INTEGER PRIMARY KEY AUTOINCREMENT,
		id           TEXT NOT NULL UNIQUE,
		site         TEXT NOT NULL,
		device_id    TEXT NOT NULL,
		family       TEXT NOT NULL,
		type         TEXT NOT NULL,
		severity     TEXT NOT NULL,
		state        TEXT NOT NULL,
		title_zh     TEXT NOT NULL,
		title_en     TEXT NOT NULL,
		condition    TEXT NOT NULL DEFAULT '',
		detail       TEXT NOT NULL DEFAULT '',
		raised_ms    INTEGER NOT NULL,
		last_ms      INTEGER NOT NULL,
		count        INTEGER NOT NULL DEFAULT 1,
		ack_by       TEXT NOT NULL DEFAULT '',
		ack_ms       INTEGER NOT NULL DEFAULT 0,
		resolved_by  TEXT NOT NULL DEFAULT '',
		resolved_ms  INTEGER NOT NULL DEFAULT 0,
		outcome      TEXT NOT NULL DEFAULT '',
		note         TEXT NOT NULL DEFAULT '',
		escalated    INTEGER NOT NULL DEFAULT 0,
		escalated_ms INTEGER NOT NULL DEFAULT 0,
		cancelled_ms INTEGER NOT NULL DEFAULT 0,
		auto_cleared INTEGER NOT NULL DEFAULT 0,
		case_id      TEXT NOT NULL DEFAULT '',
		case_state   TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX alarms_open ON alarms (device_id, type) WHERE state != 'resolved';
	CREATE INDEX alarms_by_state ON alarms (state, raised_ms);
	CREATE INDEX alarms_by_time ON alarms (raised_ms);
	CREATE TABLE alarm_changes (
		seq      INTEGER PRIMARY KEY AUTOINCREMENT,
		alarm_id TEXT NOT NULL,
		kind     TEXT NOT NULL,
		at_ms    INTEGER NOT NULL,
		actor    TEXT NOT NULL,
		detail   TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX alarm_changes_by_alarm ON alarm_changes (alarm_id, seq);
	CREATE TABLE alarm_timers (
		key       TEXT PRIMARY KEY,
		device_id TEXT NOT NULL,
		type      TEXT NOT NULL,
		severity  TEXT NOT NULL,
		condition TEXT NOT NULL DEFAULT '',
		detail    TEXT NOT NULL DEFAULT '',
		at_ms     INTEGER NOT NULL
	);
	CREATE INDEX alarm_timers_due ON alarm_timers (at_ms);`}}

// ErrNotFound is returned for an alarm that does not exist.
var ErrNotFound = errors.New("alarm: no such alarm")

// ErrState is returned for a change the alarm's state does not allow.
var ErrState = errors.New("alarm: not allowed in this state")

const alarmCols = `id, site, device_id, family, type, severity, state, title_zh, title_en, condition, detail,
	raised_ms, last_ms, count, ack_by, ack_ms, resolved_by, resolved_ms, outcome, note, escalated, escalated_ms,
	cancelled_ms, auto_cleared, case_id, case_state`

type scanner interface{ Scan(dest ...any) error }

func scanAlarm(s scanner) (Alarm, error) {
	var a Alarm
	var sev, state string
	err := s.Scan(&a.ID, &a.Site, &a.DeviceID, &a.Family, &a.Type, &sev, &state, &a.TitleZH, &a.TitleEN, &a.Condition,
		&a.Detail, &a.RaisedMS, &a.LastMS, &a.Count, &a.AckBy, &a.AckMS, &a.ResolvedBy, &a.ResolvedMS, &a.Outcome,
		&a.Note, &a.Escalated, &a.EscalatedMS, &a.CancelledMS, &a.AutoCleared, &a.CaseID, &a.CaseState)
	a.Severity, a.State = rules.Severity(sev), State(state)
	return a, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func getAlarm(ctx context.Context, q querier, id string) (Alarm, error) {
	a, err := scanAlarm(q.QueryRowContext(ctx, `SELECT `+alarmCols+` FROM alarms WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("alarm: get %s: %w", id, err)
	}
	return a, nil
}

func queryAlarms(ctx context.Context, q querier, where string, args ...any) ([]Alarm, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+alarmCols+` FROM alarms `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("alarm: query: %w", err)
	}
	defer rows.Close()
	out := []Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, fmt.Errorf("alarm: query: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func insertAlarm(ctx context.Context, tx querier, a *Alarm) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO alarms(id, site, device_id, family, type, severity, state, title_zh, title_en,
		condition, detail, raised_ms, last_ms, count) VALUES('', ?,?,?,?,?,?,?,?,?,?,?,?,1)`,
		a.Site, a.DeviceID, a.Family, a.Type, string(a.Severity), string(a.State), a.TitleZH, a.TitleEN, a.Condition,
		a.Detail, a.RaisedMS, a.LastMS)
	if err != nil {
		return fmt.Errorf("alarm: insert: %w", err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("alarm: insert: %w", err)
	}
	// Unique across the city: the site code and this gateway's alarm sequence.
	a.ID = fmt.Sprintf("%s-%d", a.Site, seq)
	a.Count = 1
	if _, err := tx.ExecContext(ctx, `UPDATE alarms SET id = ? WHERE seq = ?`, a.ID, seq); err != nil {
		return fmt.Errorf("alarm: insert: %w", err)
	}
	return nil
}

// saveAlarm writes every mutable field of a.
func saveAlarm(ctx context.Context, tx querier, a *Alarm) error {
	_, err := tx.ExecContext(ctx, `UPDATE alarms SET state=?, last_ms=?, count=?, ack_by=?, ack_ms=?, resolved_by=?, resolved_ms=?,
		outcome=?, note=?, escalated=?, escalated_ms=?, cancelled_ms=?, auto_cleared=?, case_id=?, case_state=? WHERE id=?`,
		string(a.State), a.LastMS, a.Count, a.AckBy, a.AckMS, a.ResolvedBy, a.ResolvedMS, a.Outcome, a.Note, a.Escalated,
		a.EscalatedMS, a.CancelledMS, a.AutoCleared, a.CaseID, a.CaseState, a.ID)
	if err != nil {
		return fmt.Errorf("alarm: save %s: %w", a.ID, err)
	}
	return nil
}

// recordChange writes a timeline entry and, for every change but a repeat, its audit entry in
// tx. The audit log is of handling (who raised, acknowledged, resolved, escalated, cancelled);
// a device pressing again is on the alarm's timeline and in its count, not the audit log,
// which a busy device would otherwise flood.
func recordChange(ctx context.Context, tx querier, a Alarm, kind, actor, detail string, atMS int64) (Change, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO alarm_changes(alarm_id, kind, at_ms, actor, detail) VALUES(?,?,?,?,?)`,
		a.ID, kind, atMS, actor, detail)
	if err != nil {
		return Change{}, fmt.Errorf("alarm: record change: %w", err)
	}
	seq, _ := res.LastInsertId()
	if kind == ChangeRepeated {
		return Change{Seq: seq, Kind: kind, AtMS: atMS, Actor: actor, Detail: detail, Alarm: a}, nil
	}
	if err := audit.Record(ctx, tx, audit.Entry{AtMS: atMS, Actor: actor, Action: "alarm." + kind, Target: a.ID,
		Detail: strings.TrimSpace(a.DeviceID + " " + a.Type + " " + detail)}); err != nil {
		return Change{}, err
	}
	return Change{Seq: seq, Kind: kind, AtMS: atMS, Actor: actor, Detail: detail, Alarm: a}, nil
}

// Timeline returns an alarm's changes, oldest first.
func timeline(ctx context.Context, q querier, id string) ([]Change, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, kind, at_ms, actor, detail FROM alarm_changes WHERE alarm_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("alarm: timeline: %w", err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.Seq, &c.Kind, &c.AtMS, &c.Actor, &c.Detail); err != nil {
			return nil, fmt.Errorf("alarm: timeline: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func detailJSON(m map[string]any) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}
