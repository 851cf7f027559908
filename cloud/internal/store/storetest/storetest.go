// Package storetest runs a test against every database the cloud supports: a fresh SQLite
// file and a fresh database on a throwaway PostgreSQL server (pgtest) started once per test
// binary. Without PostgreSQL the postgres subtests fail, naming what is missing.
package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/community-edge/edge/cloud/internal/pgtest"
	"github.com/community-edge/edge/cloud/internal/store"
)

// Env holds the PostgreSQL server of one test binary.
type Env struct {
	pg    *pgtest.Server
	pgErr error
}

// Main starts PostgreSQL, runs the tests and stops it. Use it from TestMain:
//
//	var env = new(storetest.Env)
//	func TestMain(m *testing.M) { os.Exit(env.Main(m)) }
func (e *Env) Main(m *testing.M) int {
	e.pg, e.pgErr = pgtest.Start(context.Background(), pgtest.Options{Durable: os.Getenv("PGTEST_DURABLE") != ""})
	code := m.Run()
	if e.pg != nil {
		if err := e.pg.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return code
}

// Backends are the names of the databases, in the order Each runs them.
func Backends() []string { return []string{"sqlite", "postgres"} }

// Open returns a migrated, empty store of the backend, closed when the test ends.
func (e *Env) Open(tb testing.TB, backend string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	var o store.Options
	switch backend {
	case "sqlite":
		o = store.Options{Driver: "sqlite", Path: filepath.Join(tb.TempDir(), "cloud.db")}
	case "postgres":
		if e.pg == nil {
			tb.Fatalf("postgres backend unavailable: %v", e.pgErr)
		}
		dsn, err := e.pg.CreateDB(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		o = store.Options{Driver: "postgres", DSN: dsn}
	default:
		tb.Fatalf("unknown backend %q", backend)
	}
	s, err := store.Open(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Each runs fn as a subtest per backend, each with its own empty store.
func (e *Env) Each(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for _, b := range Backends() {
		t.Run(b, func(t *testing.T) { fn(t, e.Open(t, b)) })
	}
}
