package store

import (
	"context"
	"fmt"
)

// Event is a stored event.
type Event struct {
	Seq        int64  `json:"seq"`
	DeviceID   string `json:"device"`
	EventID    string `json:"id"`
	Family     string `json:"family"`
	Type       string `json:"type"`
	TSMS       int64  `json:"ts"`
	ReceivedMS int64  `json:"received"`
	Data       string `json:"-"` // JSON
}

const insertEvent = `INSERT INTO events(device_id, event_id, family, type, ts_ms, received_ms, data)
	VALUES(?,?,?,?,?,?,?) ON CONFLICT(device_id, event_id) DO NOTHING`

// InsertEvent stores e inside tx and sets its Seq. It reports dup=true, storing nothing, when
// the device sent an event with this id before (a QoS 1 redelivery or a repeated id).
func InsertEvent(ctx context.Context, tx Tx, e *Event) (dup bool, err error) {
	res, err := tx.ExecContext(ctx, insertEvent, e.DeviceID, e.EventID, e.Family, e.Type, e.TSMS, e.ReceivedMS, e.Data)
	if err != nil {
		return false, fmt.Errorf("store: insert event %s/%s: %w", e.DeviceID, e.EventID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return true, nil
	}
	e.Seq, err = res.LastInsertId()
	return false, err
}

// DeviceEvents returns a device's latest events, newest first.
func (s *Store) DeviceEvents(ctx context.Context, deviceID string, limit int) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, device_id, event_id, family, type, ts_ms, received_ms, data
		FROM events WHERE seq IN (SELECT seq FROM events WHERE device_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq DESC`, deviceID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: device events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.Seq, &e.DeviceID, &e.EventID, &e.Family, &e.Type, &e.TSMS, &e.ReceivedMS, &e.Data); err != nil {
			return nil, fmt.Errorf("store: device events: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountEvents counts the stored events of a device with the given id (0 or 1), or of the
// device when eventID is empty.
func (s *Store) CountEvents(ctx context.Context, deviceID, eventID string) (int, error) {
	q, args := `SELECT COUNT(*) FROM events WHERE device_id = ?`, []any{deviceID}
	if eventID != "" {
		q, args = q+` AND event_id = ?`, append(args, eventID)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count events: %w", err)
	}
	return n, nil
}
