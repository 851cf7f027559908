package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/community-edge/edge/gateway/internal/audit"
)

// Token is a personal bearer token: a script acting as its user, with the user's current role.
type Token struct {
	ID         int64  `json:"id"`
	User       string `json:"user"`
	Label      string `json:"label"`
	CreatedMS  int64  `json:"created_at"`
	LastUsedMS int64  `json:"last_used_at"`
}

// TokenPrefix starts every personal token, so one found in a script or a log is recognisable.
const TokenPrefix = "gwt_"

// NewToken makes a personal token for user and returns it; it is shown once and stored only as
// its hash.
func (d *Directory) NewToken(ctx context.Context, by Actor, user, label string) (string, Token, error) {
	label = strings.TrimSpace(label)
	if label == "" || len(label) > 64 {
		return "", Token{}, fmt.Errorf("users: %w token label: 1-64 bytes", ErrInvalid)
	}
	secret := TokenPrefix + newSecret()
	t := Token{User: NormalizeName(user), Label: label, CreatedMS: d.now().UnixMilli()}
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO user_tokens(hash, user, label, created_ms)
			SELECT ?, name, ?, ? FROM users WHERE name = ? AND disabled = 0`, hashToken(secret), t.Label, t.CreatedMS, t.User)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, t.User)
		}
		if t.ID, err = res.LastInsertId(); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: t.CreatedMS, Actor: by.Name, Action: "user.token_add", Target: t.User,
			Detail: fmt.Sprintf("token %d %q", t.ID, t.Label), Remote: by.Remote})
	})
	if err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Tokens lists a user's personal tokens.
func (d *Directory) Tokens(ctx context.Context, user string) ([]Token, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT id, user, label, created_ms, last_used_ms FROM user_tokens WHERE user = ? ORDER BY id`,
		NormalizeName(user))
	if err != nil {
		return nil, fmt.Errorf("users: tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.User, &t.Label, &t.CreatedMS, &t.LastUsedMS); err != nil {
			return nil, fmt.Errorf("users: tokens: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users: tokens: %w", err)
	}
	return out, nil
}

// RevokeToken deletes one of user's tokens.
func (d *Directory) RevokeToken(ctx context.Context, by Actor, user string, id int64) error {
	user = NormalizeName(user)
	return d.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_tokens WHERE id = ? AND user = ?`, id, user)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: token %d of %s", ErrNotFound, id, user)
		}
		return audit.Record(ctx, tx, audit.Entry{AtMS: d.now().UnixMilli(), Actor: by.Name, Action: "user.token_revoke",
			Target: user, Detail: fmt.Sprintf("token %d", id), Remote: by.Remote})
	})
}

// TokenUser returns the enabled user a personal token belongs to, or ErrNoSession.
func (d *Directory) TokenUser(ctx context.Context, secret string) (User, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return User{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	var id, lastUsed int64
	u, err := scanUser(d.db.QueryRowContext(ctx, `SELECT u.name, u.display, u.role, u.disabled, u.created_ms, u.updated_ms, u.password_ms,
		t.id, t.last_used_ms FROM user_tokens t JOIN users u ON u.name = t.user WHERE t.hash = ?`, hashToken(secret)), &id, &lastUsed)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	if err != nil {
		return User{}, fmt.Errorf("users: token: %w", err)
	}
	if u.Disabled {
		return User{}, fmt.Errorf("users: %w", ErrNoSession)
	}
	if now := d.now(); now.Sub(time.UnixMilli(lastUsed)) >= touchEvery {
		if _, err := d.db.ExecContext(ctx, `UPDATE user_tokens SET last_used_ms = ? WHERE id = ?`, now.UnixMilli(), id); err != nil {
			return User{}, fmt.Errorf("users: token: %w", err)
		}
	}
	return u, nil
}
