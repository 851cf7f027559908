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
	c     *stmtCache
	bound map[string]*sql.Stmt // the cached statements bound to this transaction, by query
}

// Cached wraps tx so its statements come from the store's cache. Each is bound to the
// transaction once: a batch of thousands of events runs the same few statements thousands of
// times, and database/sql makes (and keeps until the end) a bound copy per call otherwise.
func (s *Store) Cached(tx *sql.Tx) Tx { return Tx{Tx: tx, c: s.stmts, bound: map[string]*sql.Stmt{}} }

// stmt returns query's statement bound to the transaction, or nil when it cannot be prepared
// (the caller then runs the query unprepared, which reports the error).
func (t Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.bound[query]; ok {
		return st
	}
	st, err := t.c.get(ctx, query)
	if err != nil {
		return nil
	}
	b := t.Tx.StmtContext(ctx, st)
	t.bound[query] = b
	return b
}

// ExecContext runs a cached statement in the transaction.
func (t Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext runs a cached query in the transaction.
func (t Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a cached single-row query in the transaction.
func (t Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}
