// Package cameras owns the cameras an installer adds while the gateway runs (configured
// cameras stay in the configuration, read-only): kept in the gateway's SQLite with the
// username and password sealed under the site's data key and bound to the camera's id, each
// addition and removal audited in the same transaction, read back at every start.
package cameras

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/seal"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Migrations creates the table of runtime cameras.
var Migrations = store.Migrator{Name: "cameras", Steps: []string{`
	CREATE TABLE cameras (
		id          TEXT PRIMARY KEY,
		name        TEXT NOT NULL DEFAULT '',
		building    TEXT NOT NULL DEFAULT '',
		url         TEXT NOT NULL,
		credentials TEXT NOT NULL DEFAULT '',
		always_on   INTEGER NOT NULL DEFAULT 0,
		created_ms  INTEGER NOT NULL,
		created_by  TEXT NOT NULL DEFAULT ''
	);`}}

// Camera is a runtime camera. URL carries no credentials: they are in Username and Password.
type Camera struct {
	ID, Name, Building string
	URL                string
	Username, Password string
	AlwaysOn           bool
	CreatedMS          int64
	CreatedBy          string
}

// Sentinel errors.
var (
	ErrExists   = errors.New("cameras: a camera with this id exists")
	ErrNotFound = errors.New("cameras: no such runtime camera")
)

// Store keeps runtime cameras.
type Store struct {
	db     *sql.DB
	sealer *seal.Sealer
}

// New returns a store on db (migrated with Migrations) sealing credentials with sealer.
func New(db *sql.DB, sealer *seal.Sealer) *Store { return &Store{db: db, sealer: sealer} }

// SplitURL takes the credentials out of an rtsp:// URL: the URL without them, and the
// username and password it carried (empty when it had none).
func SplitURL(raw string) (clean, user, pass string, err error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rtsp" || u.Host == "" {
		return "", "", "", fmt.Errorf("cameras: %q is not an rtsp://host/path URL", redact(raw))
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, pass, nil
}

// redact hides what could be a password in a URL that did not parse.
func redact(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "…@" + raw[i+1:]
		}
		return "…@" + raw[i+1:]
	}
	return raw
}

type secret struct {
	User string `json:"u"`
	Pass string `json:"p"`
}

// Add stores c and audits camera.add by actor in one transaction. detail is the audit
// entry's detail (never the credentials).
func (s *Store) Add(ctx context.Context, c Camera, actor, remote string, detail any) error {
	if s.sealer == nil {
		return errors.New("cameras: no data key to seal camera credentials with")
	}
	if c.CreatedMS == 0 {
		c.CreatedMS = time.Now().UnixMilli()
	}
	creds := ""
	if c.Username != "" || c.Password != "" {
		b, _ := json.Marshal(secret{User: c.Username, Pass: c.Password})
		creds = s.sealer.Seal(b, "camera:"+c.ID)
	}
	d, _ := json.Marshal(detail)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cameras WHERE id = ?`, c.ID).Scan(&n); err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s", ErrExists, c.ID)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cameras(id, name, building, url, credentials, always_on, created_ms, created_by)
		VALUES(?,?,?,?,?,?,?,?)`, c.ID, c.Name, c.Building, c.URL, creds, c.AlwaysOn, c.CreatedMS, actor); err != nil {
		return fmt.Errorf("cameras: add %s: %w", c.ID, err)
	}
	if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "camera.add", Target: c.ID, Detail: string(d), Remote: remote}); err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cameras: add %s: %w", c.ID, err)
	}
	return nil
}

// Remove deletes runtime camera id and audits camera.remove; ErrNotFound if there is none.
func (s *Store) Remove(ctx context.Context, id, actor, remote string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	defer tx.Rollback()
	var name string
	switch err := tx.QueryRowContext(ctx, `SELECT name FROM cameras WHERE id = ?`, id).Scan(&name); {
	case errors.Is(err, sql.ErrNoRows):
		return ErrNotFound
	case err != nil:
		return fmt.Errorf("cameras: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM cameras WHERE id = ?`, id); err != nil {
		return fmt.Errorf("cameras: remove %s: %w", id, err)
	}
	d, _ := json.Marshal(map[string]string{"name": name})
	if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: "camera.remove", Target: id, Detail: string(d), Remote: remote}); err != nil {
		return fmt.Errorf("cameras: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("cameras: remove %s: %w", id, err)
	}
	return nil
}

// List returns every runtime camera with its credentials opened, oldest first.
func (s *Store) List(ctx context.Context) ([]Camera, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, building, url, credentials, always_on, created_ms, created_by FROM cameras ORDER BY created_ms, id`)
	if err != nil {
		return nil, fmt.Errorf("cameras: %w", err)
	}
	defer rows.Close()
	var out []Camera
	for rows.Next() {
		var c Camera
		var creds string
		if err := rows.Scan(&c.ID, &c.Name, &c.Building, &c.URL, &creds, &c.AlwaysOn, &c.CreatedMS, &c.CreatedBy); err != nil {
			return nil, fmt.Errorf("cameras: %w", err)
		}
		if creds != "" {
			if s.sealer == nil {
				return nil, fmt.Errorf("cameras: camera %s: no data key to open its credentials", c.ID)
			}
			b, err := s.sealer.Open(creds, "camera:"+c.ID)
			if err != nil {
				return nil, fmt.Errorf("cameras: camera %s: %w", c.ID, err)
			}
			var sec secret
			if err := json.Unmarshal(b, &sec); err != nil {
				return nil, fmt.Errorf("cameras: camera %s: credentials: %w", c.ID, err)
			}
			c.Username, c.Password = sec.User, sec.Pass
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
