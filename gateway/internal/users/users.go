// Package users owns who may use the gateway's web console and API: user accounts in SQLite
// (role, argon2id password hash, disabled flag), login sessions (a random 256-bit id of which
// only the SHA-256 is stored, with an absolute expiry, an idle timeout and a CSRF token),
// personal bearer tokens for scripts, and login rate limiting per user name and per remote
// address that answers an unknown user exactly like a wrong password. Every change and every
// login is written to the audit log in the same transaction.
package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
	"github.com/community-edge/edge/gateway/internal/config"
	"github.com/community-edge/edge/gateway/internal/store"
)

// Migrations creates the users, sessions and tokens tables.
var Migrations = store.Migrator{Name: "users", Steps: []string{`
	CREATE TABLE users (
		name          TEXT PRIMARY KEY,
		display       TEXT NOT NULL DEFAULT '',
		role          TEXT NOT NULL,
		password_hash TEXT NOT NULL,
		disabled      INTEGER NOT NULL DEFAULT 0,
		created_ms    INTEGER NOT NULL,
		updated_ms    INTEGER NOT NULL,
		password_ms   INTEGER NOT NULL
	);
	CREATE TABLE sessions (
		id_hash    TEXT PRIMARY KEY,
		user       TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
		csrf       TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		last_ms    INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL,
		remote     TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX sessions_by_user ON sessions (user);
	CREATE TABLE user_tokens (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		hash         TEXT NOT NULL UNIQUE,
		user         TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
		label        TEXT NOT NULL,
		created_ms   INTEGER NOT NULL,
		last_used_ms INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX user_tokens_by_user ON user_tokens (user);`}}

// Errors callers tell apart with errors.Is.
var (
	ErrNotFound  = errors.New("no such user")
	ErrExists    = errors.New("user exists")
	ErrInvalid   = errors.New("invalid")
	ErrBadLogin  = errors.New("wrong user name or password")
	ErrNoSession = errors.New("not logged in")
	ErrLastAdmin = errors.New("this would leave no enabled admin")
)

// RateLimitedError is returned by Login while the user name or the remote address is locked out.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("users: too many failed logins: try again in %s", e.RetryAfter.Round(time.Second))
}

// User is an account.
type User struct {
	Name       string `json:"name"`
	Display    string `json:"display"`
	Role       string `json:"role"`
	Disabled   bool   `json:"disabled"`
	CreatedMS  int64  `json:"created_at"`
	UpdatedMS  int64  `json:"updated_at"`
	PasswordMS int64  `json:"password_changed_at"`
}

// Actor is who makes a change, for the audit log.
type Actor struct {
	Name   string // user or token name; "cli" for the command line
	Remote string // client address, if any
}

// Options tune a Directory; zero fields take defaults.
type Options struct {
	SessionLifetime time.Duration // absolute; default 12h (a shift)
	SessionIdle     time.Duration // without a request; default 2h
	Params          Params        // for new hashes; default DefaultParams
	Now             func() time.Time
	// Per user name: UserThreshold failures lock it for 30 s, doubling per failure up to 15 min.
	UserThreshold int // default 5
	// Per remote address: AddrThreshold failures lock it for 1 min, doubling up to 30 min.
	AddrThreshold int // default 10
}

// Directory is the gateway's users, sessions and tokens.
type Directory struct {
	db       *sql.DB
	log      *slog.Logger
	now      func() time.Time
	params   Params
	lifetime time.Duration
	idle     time.Duration
	byUser   *Limiter
	byAddr   *Limiter
	// hashing bounds concurrent argon2 runs: each takes Params.MemoryKiB of memory.
	hashing chan struct{}

	dummyOnce sync.Once
	dummy     string // hash checked for unknown users, so they take as long as known ones
}

// New returns a directory over db (migrated with Migrations).
func New(db *sql.DB, o Options, log *slog.Logger) *Directory {
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 12 * time.Hour
	}
	if o.SessionIdle <= 0 {
		o.SessionIdle = 2 * time.Hour
	}
	if o.Params == (Params{}) {
		o.Params = DefaultParams()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserThreshold <= 0 {
		o.UserThreshold = 5
	}
	if o.AddrThreshold <= 0 {
		o.AddrThreshold = 10
	}
	return &Directory{db: db, log: log, now: o.Now, params: o.Params, lifetime: o.SessionLifetime, idle: o.SessionIdle,
		byUser:  NewLimiter(o.UserThreshold, 30*time.Second, 15*time.Minute, time.Hour, o.Now),
		byAddr:  NewLimiter(o.AddrThreshold, time.Minute, 30*time.Minute, time.Hour, o.Now),
		hashing: make(chan struct{}, 2)}
}

var nameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,31}$`)

// NormalizeName is how user names are compared: trimmed and lower case.
func NormalizeName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

func validate(name, role string) error {
	if !nameRe.MatchString(name) {
		return fmt.Errorf("%w name %q: use 1-32 lower-case letters, digits, '.', '-' or '_'", ErrInvalid, name)
	}
	if !slices.Contains(config.Roles, role) {
		return fmt.Errorf("%w role %q: must be one of %s", ErrInvalid, role, strings.Join(config.Roles, ", "))
	}
	return nil
}

// hash runs argon2id under the concurrency bound.
func (d *Directory) hash(ctx context.Context, password string) (string, error) {
	if err := d.acquire(ctx); err != nil {
		return "", err
	}
	defer d.release()
	return HashPassword(password, d.params), nil
}

func (d *Directory) verify(ctx context.Context, hash, password string) (bool, error) {
	if err := d.acquire(ctx); err != nil {
		return false, err
	}
	defer d.release()
	return VerifyPassword(hash, password)
}

func (d *Directory) acquire(ctx context.Context) error {
	select {
	case d.hashing <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("users: %w", ctx.Err())
	}
}

func (d *Directory) release() { <-d.hashing }

const userCols = `name, display, role, disabled, created_ms, updated_ms, password_ms`

type scanner interface{ Scan(...any) error }

func scanUser(s scanner, extra ...any) (User, error) {
	var u User
	err := s.Scan(append([]any{&u.Name, &u.Display, &u.Role, &u.Disabled, &u.CreatedMS, &u.UpdatedMS, &u.PasswordMS}, extra...)...)
	return u, err
}

// Add creates a user with an initial password.
func (d *Directory) Add(ctx context.Context, by Actor, u User, password string) (User, error) {
	return d.add(ctx, by, u, password, nil)
}

// add creates a user; within, if set, runs first in the same transaction (a guard, or more
// rows that belong with the user).
func (d *Directory) add(ctx context.Context, by Actor, u User, password string, within func(*sql.Tx) error) (User, error) {
	u.Name = NormalizeName(u.Name)
	if err := validate(u.Name, u.Role); err != nil {
		return User{}, fmt.Errorf("users: %w", err)
	}
	if err := CheckStrength(u.Name, password); err != nil {
		return User{}, err
	}
	h, err := d.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := d.now().UnixMilli()
	u.CreatedMS, u.UpdatedMS, u.PasswordMS, u.Disabled = now, now, now, false
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		if within != nil {
			if err := within(tx); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, u.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", ErrExists, u.Name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users(name, display, role, password_hash, disabled, created_ms, updated_ms, password_ms)
			VALUES(?,?,?,?,0,?,?,?)`, u.Name, u.Display, u.Role, h, now, now, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: now, Actor: by.Name, Action: "user.add", Target: u.Name,
			Detail: "role " + u.Role, Remote: by.Remote})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// Get returns a user.
func (d *Directory) Get(ctx context.Context, name string) (User, error) {
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, NormalizeName(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("users: %w: %s", ErrNotFound, name)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: %w", err)
	}
	return u, nil
}

// List returns every user ordered by name.
func (d *Directory) List(ctx context.Context) ([]User, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: list: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: list: %w", err)
	}
	return out, nil
}

// Change is an update to a user; nil fields are left as they are.
type Change struct {
	Display  *string `json:"display"`
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

// Update changes a user's display name, role or disabled flag. Disabling a user ends their
// sessions; a role change applies to their next request. The last enabled admin can be neither
// demoted nor disabled.
func (d *Directory) Update(ctx context.Context, by Actor, name string, c Change) (User, error) {
	name = NormalizeName(name)
	var out User
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if err != nil {
			return err
		}
		now := d.now().UnixMilli()
		var entries []audit.Entry
		add := func(action, detail string) {
			entries = append(entries, audit.Entry{AtMS: now, Actor: by.Name, Action: action, Target: name, Detail: detail, Remote: by.Remote})
		}
		if c.Role != nil && *c.Role != u.Role {
			if err := validate(name, *c.Role); err != nil {
				return err
			}
			add("user.role", u.Role+" → "+*c.Role)
			u.Role = *c.Role
		}
		if c.Disabled != nil && *c.Disabled != u.Disabled {
			u.Disabled = *c.Disabled
			if u.Disabled {
				add("user.disable", "")
			} else {
				add("user.enable", "")
			}
		}
		if c.Display != nil && *c.Display != u.Display {
			add("user.display", *c.Display)
			u.Display = *c.Display
		}
		out = u
		if len(entries) == 0 {
			return nil
		}
		if u.Role != "admin" || u.Disabled {
			if err := lastAdminGuard(ctx, tx, name); err != nil {
				return err
			}
		}
		u.UpdatedMS = now
		out = u
		if _, err := tx.ExecContext(ctx, `UPDATE users SET display = ?, role = ?, disabled = ?, updated_ms = ? WHERE name = ?`,
			u.Display, u.Role, u.Disabled, now, name); err != nil {
			return err
		}
		if u.Disabled {
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ?`, name); err != nil {
				return err
			}
		}
		for _, e := range entries {
			if err := audit.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// lastAdminGuard refuses a change that takes name out of the enabled admins if it is the last one.
func lastAdminGuard(ctx context.Context, tx *sql.Tx, name string) error {
	var wasAdmin, others int
	err := tx.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE name = ? AND role = 'admin' AND disabled = 0),
		COUNT(*) FILTER (WHERE name <> ? AND role = 'admin' AND disabled = 0) FROM users`, name, name).Scan(&wasAdmin, &others)
	if err != nil {
		return err
	}
	if wasAdmin == 1 && others == 0 {
		return fmt.Errorf("%w: %s is the last one", ErrLastAdmin, name)
	}
	return nil
}

// Remove deletes a user with their sessions and tokens. The last enabled admin cannot be removed.
func (d *Directory) Remove(ctx context.Context, by Actor, name string) error {
	name = NormalizeName(name)
	return d.inTx(ctx, func(tx *sql.Tx) error {
		if err := lastAdminGuard(ctx, tx, name); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: by.Name, Action: "user.remove", Target: name, Remote: by.Remote,
			AtMS: d.now().UnixMilli()})
	})
}

// SetPassword sets a user's password without the old one (an admin's reset, the command
// line) and ends all of the user's sessions.
func (d *Directory) SetPassword(ctx context.Context, by Actor, name, password string) error {
	return d.setPassword(ctx, by, NormalizeName(name), password, "", "reset")
}

// ChangePassword is a user changing their own password: the old one must match. Their other
// sessions end; keepSession (the token of the session making the change, if any) stays.
func (d *Directory) ChangePassword(ctx context.Context, by Actor, name, old, password, keepSession string) error {
	name = NormalizeName(name)
	var hash string
	err := d.db.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE name = ? AND disabled = 0`, name).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("users: %w: %s", ErrNotFound, name)
	}
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	ok, err := d.verify(ctx, hash, old)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("users: old password: %w", ErrBadLogin)
	}
	return d.setPassword(ctx, by, name, password, keepSession, "changed by the user")
}

func (d *Directory) setPassword(ctx context.Context, by Actor, name, password, keepSession, how string) error {
	if err := CheckStrength(name, password); err != nil {
		return err
	}
	h, err := d.hash(ctx, password)
	if err != nil {
		return err
	}
	now := d.now().UnixMilli()
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, password_ms = ?, updated_ms = ? WHERE name = ?`, h, now, now, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user = ? AND id_hash <> ?`, name, hashToken(keepSession)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: now, Actor: by.Name, Action: "user.passwd", Target: name, Detail: how, Remote: by.Remote})
	})
}

// inTx runs f in a transaction; f's errors carry no prefix, inTx adds the package's.
func (d *Directory) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("users: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}
