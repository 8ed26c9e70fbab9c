package idempg_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	idempg "github.com/idemkit/idempotency/storage/postgres"
	"github.com/idemkit/idempotency/storage/postgres/internal/pgtest"
)

// srv is the test binary's one PostgreSQL server (nil: tests skip).
var srv *pgtest.Server

// childEnv marks a re-executed test binary (the crash test's client): it
// must not start a server of its own.
const childEnv = "IDEMPG_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	os.Exit(pgtest.Main(m, func(s *pgtest.Server) int {
		srv = s
		if s != nil {
			pool, err := pgxpool.New(context.Background(), s.DSN)
			if err == nil {
				err = idempg.Migrate(context.Background(), pool)
				pool.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "migrate:", err)
				return 1
			}
		}
		return m.Run()
	}))
}

// newPool returns a pool on the test server, closed when the test ends;
// it skips the test without a server.
func newPool(t testing.TB, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	if srv == nil {
		t.Skip("no PostgreSQL server (pgtest)")
	}
	cfg, err := pgxpool.ParseConfig(srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	for _, c := range configure {
		c(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// newStore returns a store on pool, closed when the test ends.
func newStore(t testing.TB, pool *pgxpool.Pool, opts ...idempg.Option) *idempg.Store {
	t.Helper()
	st, err := idempg.New(pool, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
