package users

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrAdminExists is returned by AddFirstAdmin when an enabled admin account already exists.
var ErrAdminExists = errors.New("an admin account already exists")

// CheckName reports whether name (normalized) is a valid user name, with the rule in the error.
func CheckName(name string) error {
	if err := validate(NormalizeName(name), "admin"); err != nil {
		return fmt.Errorf("users: %w", err)
	}
	return nil
}

// HasAdmin reports whether an enabled admin account exists.
func (d *Directory) HasAdmin(ctx context.Context) (bool, error) {
	n, err := countAdmins(ctx, d.db)
	if err != nil {
		return false, fmt.Errorf("users: %w", err)
	}
	return n > 0, nil
}

type queryer interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

func countAdmins(ctx context.Context, q queryer) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0`).Scan(&n)
	return n, err
}

// AddFirstAdmin creates the first admin account (u.Role is set to admin) and, in the same
// transaction, runs also, which stores what else belongs with it. It fails with ErrAdminExists
// when an enabled admin exists once the transaction holds the database's write lock, so of two
// concurrent calls exactly one succeeds.
func (d *Directory) AddFirstAdmin(ctx context.Context, by Actor, u User, password string, also func(*sql.Tx) error) (User, error) {
	u.Role = "admin"
	return d.add(ctx, by, u, password, func(tx *sql.Tx) error {
		n, err := countAdmins(ctx, tx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrAdminExists
		}
		if also != nil {
			return also(tx)
		}
		return nil
	})
}
