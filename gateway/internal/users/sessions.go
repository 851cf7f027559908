package users

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
)

// Session is a logged-in browser.
type Session struct {
	User      User
	CSRF      string // the X-CSRF-Token header every state-changing request must carry
	CreatedMS int64
	LastMS    int64
	ExpiresMS int64 // absolute expiry; the idle timeout may end it sooner
}

// touchEvery is how stale a session's last-use time may get before a request rewrites it: one
// write a minute per active session instead of one per request.
const touchEvery = time.Minute

// newSecret returns 256 random bits, URL-safe.
func newSecret() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is the stored form of a session id or bearer token.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// addrKey is the limiter key of a remote address: the host, without the port.
func addrKey(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// Login checks a user name and password and starts a session. A wrong password, an unknown
// user and a disabled one all return ErrBadLogin after the same amount of work; while the name
// or the remote address is locked out it returns *RateLimitedError without checking anything.
// The session token returned goes in the cookie; only its hash is stored.
func (d *Directory) Login(ctx context.Context, name, password, remote string) (string, Session, error) {
	name = NormalizeName(name)
	userKey, addr := "u:"+truncate(name, 64), "a:"+addrKey(remote)
	if wait := max(d.byUser.Wait(userKey), d.byAddr.Wait(addr)); wait > 0 {
		return "", Session{}, &RateLimitedError{RetryAfter: wait}
	}
	var hash string
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE name = ?`, name), &hash)
	known := err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", Session{}, fmt.Errorf("users: login: %w", err)
	}
	if !known || u.Disabled {
		hash = d.dummyHash()
	}
	ok, err := d.verify(ctx, hash, password)
	if err != nil {
		return "", Session{}, fmt.Errorf("users: login %s: %w", name, err)
	}
	now := d.now()
	if !ok || !known || u.Disabled {
		wait := max(d.byUser.Fail(userKey), d.byAddr.Fail(addr))
		detail := "wrong password"
		switch {
		case !known:
			detail = "unknown user"
		case u.Disabled:
			detail = "user disabled"
		}
		if err := audit.Record(ctx, d.db, audit.Entry{AtMS: now.UnixMilli(), Actor: truncate(name, 64), Action: "user.login_failed",
			Target: truncate(name, 64), Detail: detail, Remote: remote}); err != nil {
			d.log.Error("recording a failed login", "err", err)
		}
		if wait > 0 {
			d.log.Warn("login locked out after repeated failures", "user", truncate(name, 64), "remote", remote, "for", wait)
			return "", Session{}, &RateLimitedError{RetryAfter: wait}
		}
		return "", Session{}, fmt.Errorf("users: %w", ErrBadLogin)
	}
	d.byUser.Reset(userKey)
	token := newSecret()
	s := Session{User: u, CSRF: newSecret(), CreatedMS: now.UnixMilli(), LastMS: now.UnixMilli(),
		ExpiresMS: now.Add(d.lifetime).UnixMilli()}
	var rehash string
	if p, ok := hashParams(hash); ok && p != d.params {
		if rehash, err = d.hash(ctx, password); err != nil {
			return "", Session{}, err
		}
	}
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		// Sweep ended sessions here rather than in a background goroutine.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_ms <= ? OR last_ms <= ?`,
			s.CreatedMS, now.Add(-d.idle).UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions(id_hash, user, csrf, created_ms, last_ms, expires_ms, remote)
			VALUES(?,?,?,?,?,?,?)`, hashToken(token), u.Name, s.CSRF, s.CreatedMS, s.LastMS, s.ExpiresMS, remote); err != nil {
			return err
		}
		if rehash != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE name = ?`, rehash, u.Name); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: s.CreatedMS, Actor: u.Name, Action: "user.login", Target: u.Name, Remote: remote})
	})
	if err != nil {
		return "", Session{}, err
	}
	return token, s, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

func (d *Directory) dummyHash() string {
	d.dummyOnce.Do(func() { d.dummy = HashPassword(newSecret(), d.params) })
	return d.dummy
}

// Session returns the live session of a token: one that exists, has not expired, has been used
// within the idle timeout, and whose user is enabled. The user's role is read afresh, so a role
// change applies to the next request. Anything else is ErrNoSession.
func (d *Directory) Session(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	id := hashToken(token)
	var s Session
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT u.name, u.display, u.role, u.disabled, u.created_ms, u.updated_ms, u.password_ms,
		s.csrf, s.created_ms, s.last_ms, s.expires_ms FROM sessions s JOIN users u ON u.name = s.user WHERE s.id_hash = ?`, id),
		&s.CSRF, &s.CreatedMS, &s.LastMS, &s.ExpiresMS)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	if err != nil {
		return Session{}, fmt.Errorf("users: session: %w", err)
	}
	s.User = u
	now := d.now()
	if u.Disabled || now.UnixMilli() >= s.ExpiresMS || now.Sub(time.UnixMilli(s.LastMS)) >= d.idle {
		if _, err := d.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, id); err != nil {
			d.log.Warn("deleting an ended session", "err", err)
		}
		return Session{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	if now.Sub(time.UnixMilli(s.LastMS)) >= touchEvery {
		s.LastMS = now.UnixMilli()
		if _, err := d.db.ExecContext(ctx, `UPDATE sessions SET last_ms = ? WHERE id_hash = ?`, s.LastMS, id); err != nil {
			return Session{}, fmt.Errorf("users: session: %w", err)
		}
	}
	return s, nil
}

// Logout ends the session of token.
func (d *Directory) Logout(ctx context.Context, token, remote string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		var user string
		err := tx.QueryRowContext(ctx, `DELETE FROM sessions WHERE id_hash = ? RETURNING user`, hashToken(token)).Scan(&user)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: d.now().UnixMilli(), Actor: user, Action: "user.logout", Target: user, Remote: remote})
	})
}
