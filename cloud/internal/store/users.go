package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a grid centre user.
type User struct {
	ID           int64
	Username     string
	DisplayName  string
	Role         string
	Department   string
	PasswordHash string
	Disabled     bool
	Created      time.Time
}

// AddUser stores a new user and returns its id.
func (s *Store) AddUser(ctx context.Context, u User) (int64, error) {
	var id int64
	err := s.w.QueryRowContext(ctx, s.d.rebind(`INSERT INTO users (username, display_name, role, department, password_hash, disabled, created_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		u.Username, u.DisplayName, u.Role, u.Department, u.PasswordHash, boolInt(u.Disabled), ms(u.Created)).Scan(&id)
	if isUnique(err) {
		return 0, fmt.Errorf("store: user %s: %w", u.Username, ErrExists)
	}
	if err != nil {
		return 0, fmt.Errorf("store: add user: %w", err)
	}
	return id, nil
}

// SetPassword replaces a user's password hash and ends their sessions.
func (s *Store) SetPassword(ctx context.Context, username, hash string) error {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, s.d.rebind(`UPDATE users SET password_hash = ? WHERE username = ? RETURNING id`), hash, username).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM sessions WHERE user_id = ?`), id)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: user %s: %w", username, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: set password: %w", err)
	}
	return nil
}

const userColumns = `u.id, u.username, u.display_name, u.role, u.department, u.password_hash, u.disabled, u.created_ms`

func scanUser(sc interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var disabled int
	var created int64
	if err := sc.Scan(append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Department, &u.PasswordHash, &disabled, &created}, extra...)...); err != nil {
		return u, err
	}
	u.Disabled, u.Created = disabled != 0, fromMS(created)
	return u, nil
}

// UserByName returns a user by username.
func (s *Store) UserByName(ctx context.Context, username string) (User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.username = ?`, username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("store: user %s: %w", username, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("store: user: %w", err)
	}
	return u, nil
}

// Users lists every user by username.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.query(ctx, `SELECT `+userColumns+` FROM users u ORDER BY u.username`)
	if err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("store: users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: users: %w", err)
	}
	return out, nil
}

// Session is a login session. The token itself is never stored, only its hash.
type Session struct {
	TokenHash string
	UserID    int64
	CSRF      string
	Created   time.Time
	Expires   time.Time
}

// CreateSession stores a session.
func (s *Store) CreateSession(ctx context.Context, ss Session) error {
	if _, err := s.exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, created_ms, expires_ms) VALUES (?, ?, ?, ?, ?)`,
		ss.TokenHash, ss.UserID, ss.CSRF, ms(ss.Created), ms(ss.Expires)); err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// SessionUser returns the session with that token hash, unexpired at now, and its enabled user.
func (s *Store) SessionUser(ctx context.Context, tokenHash string, now time.Time) (Session, User, error) {
	var ss Session
	var created, expires int64
	row := s.queryRow(ctx, `SELECT `+userColumns+`, s.csrf, s.created_ms, s.expires_ms FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires_ms > ? AND u.disabled = 0`, tokenHash, ms(now))
	u, err := scanUser(row, &ss.CSRF, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, User{}, fmt.Errorf("store: session: %w", ErrNotFound)
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("store: session: %w", err)
	}
	ss.TokenHash, ss.UserID, ss.Created, ss.Expires = tokenHash, u.ID, fromMS(created), fromMS(expires)
	return ss, u, nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, tokenHash string) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash); err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions expired at now.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) error {
	if _, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_ms <= ?`, ms(now)); err != nil {
		return fmt.Errorf("store: expire sessions: %w", err)
	}
	return nil
}
