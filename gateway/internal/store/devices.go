package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Device is a device record.
type Device struct {
	ID           string
	Family       string
	Site         string
	Name         string
	ProductKey   string
	Building     string
	Unit         string
	Room         string
	GridCode     string
	Heartbeat    time.Duration
	PasswordHash string
	Resident     string // JSON of the resident card; empty for devices without one
	Origin       string // config or api
}

// DeviceState is what is known of a device's health.
type DeviceState struct {
	State      string // online, offline or unknown
	StateMS    int64
	LastSeenMS int64
	BatteryPct *float64
	RSSI       *float64
	FW         string
}

// ErrNotFound is returned for a record that does not exist.
var ErrNotFound = errors.New("store: not found")

const deviceCols = `id, family, site, name, product_key, building, unit, room, grid_code, heartbeat_ms, password_hash, resident, origin`

// execer is a *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// UpsertDevice creates or replaces a device record; its state is kept.
func (s *Store) UpsertDevice(ctx context.Context, d Device) error {
	return upsertDevice(ctx, s.db, d, true)
}

// ErrExists is returned by AddDevices for an id that is taken.
var ErrExists = errors.New("store: exists")

// AddDevices creates new device records and runs also (e.g. to write audit entries) in one
// transaction: all of it happens or none. An id that exists fails it with ErrExists.
func (s *Store) AddDevices(ctx context.Context, ds []Device, also func(*sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if err := upsertDevice(ctx, tx, d, false); err != nil {
				return err
			}
		}
		return also(tx)
	})
}

func upsertDevice(ctx context.Context, x execer, d Device, replace bool) error {
	now := time.Now().UnixMilli()
	q := `INSERT INTO devices(` + deviceCols + `, created_ms, updated_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	if replace {
		q += `
		ON CONFLICT(id) DO UPDATE SET family=excluded.family, site=excluded.site, name=excluded.name,
			product_key=excluded.product_key, building=excluded.building, unit=excluded.unit, room=excluded.room,
			grid_code=excluded.grid_code, heartbeat_ms=excluded.heartbeat_ms,
			password_hash=CASE WHEN excluded.password_hash='' THEN devices.password_hash ELSE excluded.password_hash END,
			resident=excluded.resident, origin=excluded.origin, updated_ms=excluded.updated_ms`
	} else {
		var n int
		if err := x.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE id = ?`, d.ID).Scan(&n); err != nil {
			return fmt.Errorf("store: add device %s: %w", d.ID, err)
		}
		if n > 0 {
			return fmt.Errorf("store: add device %s: %w", d.ID, ErrExists)
		}
	}
	_, err := x.ExecContext(ctx, q, d.ID, d.Family, d.Site, d.Name, d.ProductKey, d.Building, d.Unit, d.Room, d.GridCode,
		d.Heartbeat.Milliseconds(), d.PasswordHash, d.Resident, d.Origin, now, now)
	if err != nil {
		return fmt.Errorf("store: upsert device %s: %w", d.ID, err)
	}
	_, err = x.ExecContext(ctx, `INSERT OR IGNORE INTO device_state(device_id) VALUES(?)`, d.ID)
	if err != nil {
		return fmt.Errorf("store: device state %s: %w", d.ID, err)
	}
	return nil
}

// DeleteDevice removes a device and its state; its events stay in history.
func (s *Store) DeleteDevice(ctx context.Context, id string) error {
	return s.DeleteDeviceWith(ctx, id, func(*sql.Tx) error { return nil })
}

// DeleteDeviceWith removes a device and runs also (e.g. to write an audit entry) in one
// transaction. A device that does not exist is ErrNotFound.
func (s *Store) DeleteDeviceWith(ctx context.Context, id string, also func(*sql.Tx) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete device %s: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return also(tx)
	})
}

func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Devices lists every device with its state, ordered by id.
func (s *Store) Devices(ctx context.Context) ([]Device, []DeviceState, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.id, d.family, d.site, d.name, d.product_key, d.building, d.unit, d.room,
		d.grid_code, d.heartbeat_ms, d.password_hash, d.resident, d.origin,
		COALESCE(s.state,'unknown'), COALESCE(s.state_ms,0), COALESCE(s.last_seen_ms,0), s.battery_pct, s.rssi_dbm, COALESCE(s.fw,'')
		FROM devices d LEFT JOIN device_state s ON s.device_id = d.id ORDER BY d.id`)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list devices: %w", err)
	}
	defer rows.Close()
	var ds []Device
	var ss []DeviceState
	for rows.Next() {
		var d Device
		var st DeviceState
		var hb int64
		var bat, rssi sql.NullFloat64
		if err := rows.Scan(&d.ID, &d.Family, &d.Site, &d.Name, &d.ProductKey, &d.Building, &d.Unit, &d.Room,
			&d.GridCode, &hb, &d.PasswordHash, &d.Resident, &d.Origin,
			&st.State, &st.StateMS, &st.LastSeenMS, &bat, &rssi, &st.FW); err != nil {
			return nil, nil, fmt.Errorf("store: list devices: %w", err)
		}
		d.Heartbeat = time.Duration(hb) * time.Millisecond
		if bat.Valid {
			st.BatteryPct = &bat.Float64
		}
		if rssi.Valid {
			st.RSSI = &rssi.Float64
		}
		ds = append(ds, d)
		ss = append(ss, st)
	}
	return ds, ss, rows.Err()
}

// SaveStates writes the health of many devices in one transaction.
func (s *Store) SaveStates(ctx context.Context, ids []string, states []DeviceState) error {
	if len(ids) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save states: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE device_state SET last_seen_ms = MAX(last_seen_ms, ?),
		battery_pct = COALESCE(?, battery_pct), rssi_dbm = COALESCE(?, rssi_dbm) WHERE device_id = ?`)
	if err != nil {
		return fmt.Errorf("store: save states: %w", err)
	}
	for i, id := range ids {
		st := states[i]
		if _, err := stmt.ExecContext(ctx, st.LastSeenMS, st.BatteryPct, st.RSSI, id); err != nil {
			return fmt.Errorf("store: save state %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save states: %w", err)
	}
	return nil
}

// SetState records a connection state change inside the caller's transaction.
func SetState(ctx context.Context, tx Tx, id, state string, atMS int64, fw string) error {
	_, err := tx.ExecContext(ctx, `UPDATE device_state SET state = ?, state_ms = ?, fw = CASE WHEN ? = '' THEN fw ELSE ? END,
		last_seen_ms = MAX(last_seen_ms, CASE WHEN ? = 'online' THEN ? ELSE 0 END) WHERE device_id = ?`,
		state, atMS, fw, fw, state, atMS, id)
	if err != nil {
		return fmt.Errorf("store: set state %s: %w", id, err)
	}
	return nil
}
