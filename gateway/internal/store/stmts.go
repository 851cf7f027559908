package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds statements prepared once and reused by every transaction, so a hot path does
// not parse its SQL again for each event (preparing was more than half of the alarm engine's
// time per event).
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = nil
}

// Tx is a transaction whose ExecContext, QueryContext and QueryRowContext use the store's
// cached prepared statements. Make one with Store.Cached.
type Tx struct {
	*sql.Tx
	c *stmtCache
}

// Cached wraps tx so its statements come from the store's cache.
func (s *Store) Cached(tx *sql.Tx) Tx { return Tx{Tx: tx, c: s.stmts} }

// ExecContext runs a cached statement in the transaction.
func (t Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := t.c.get(ctx, query)
	if err != nil {
		return t.Tx.ExecContext(ctx, query, args...)
	}
	return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// QueryContext runs a cached query in the transaction.
func (t Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := t.c.get(ctx, query)
	if err != nil {
		return t.Tx.QueryContext(ctx, query, args...)
	}
	return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// QueryRowContext runs a cached single-row query in the transaction.
func (t Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := t.c.get(ctx, query)
	if err != nil {
		return t.Tx.QueryRowContext(ctx, query, args...)
	}
	return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
}
