package serve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/examples/internal/pgshop"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// ErrPostgresURL wraps every error about a malformed -postgres /
// DATABASE_URL. Servers exit with status 2 on it, as for a bad flag.
var ErrPostgresURL = errors.New("invalid PostgreSQL URL")

// ErrPostgresUnreachable wraps a failure to reach or migrate PostgreSQL
// at start-up. Servers exit with status 1 on it rather than falling back
// to the in-memory store.
var ErrPostgresUnreachable = errors.New("postgres unreachable")

// EnvDatabaseURL gives -postgres its default.
const EnvDatabaseURL = "DATABASE_URL"

// renewPoolConns is the size of the pool that only renews leases
// (idempg.WithRenewPool): one renewal pass is one statement, and it must
// never queue behind handlers that hold the main pool's connections in
// their transactions.
const renewPoolConns = 2

// Postgres is what OpenPostgres opens: the idempg store, the shop's
// payments ledger on the same database, and the func that closes both.
type Postgres struct {
	Store  *idempg.Store
	Ledger *pgshop.Ledger
	Close  func() error
}

// OpenPostgres connects to the database at rawURL (postgres://user:pw@host/db?...,
// with pgx's pool options such as pool_max_conns), checks that it
// answers, bounded by ctx and PingTimeout, creates or updates idempg's
// schema and the shop's payments table (idempg.Migrate, pgshop.Migrate:
// both idempotent, safe from several instances at once), and returns the
// store, with its renewals on a pool of their own and a background purge
// of expired records every minute.
//
// A malformed URL is ErrPostgresURL; a database that does not answer or
// refuses the migration is ErrPostgresUnreachable. Neither message
// contains the password.
func OpenPostgres(ctx context.Context, rawURL string) (*Postgres, error) {
	bad := func(err error) error {
		return fmt.Errorf("%w %s: %w", ErrPostgresURL, RedactURL(rawURL), redactErr(err, rawURL))
	}
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, bad(err)
	}
	rcfg := cfg.Copy()
	rcfg.MaxConns, rcfg.MinConns = renewPoolConns, 0
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(pctx, cfg)
	if err != nil {
		return nil, bad(err)
	}
	renew, err := pgxpool.NewWithConfig(pctx, rcfg)
	if err != nil {
		pool.Close()
		return nil, bad(err)
	}
	closePools := func() { renew.Close(); pool.Close() }
	err = pool.Ping(pctx)
	if err == nil {
		err = idempg.Migrate(pctx, pool)
	}
	if err == nil {
		err = pgshop.Migrate(pctx, pool)
	}
	if err != nil {
		closePools()
		return nil, fmt.Errorf("%w at %s: %w (start PostgreSQL, or unset -postgres and %s to use the in-memory store)",
			ErrPostgresUnreachable, RedactURL(rawURL), redactErr(err, rawURL), EnvDatabaseURL)
	}
	store, err := idempg.New(pool, idempg.WithRenewPool(renew), idempg.WithPurgeInterval(purgeEvery, 0))
	if err != nil { // cannot happen: fixed, valid options
		closePools()
		return nil, err
	}
	return &Postgres{
		Store:  store,
		Ledger: pgshop.NewLedger(pool),
		Close: func() error {
			err := store.Close()
			closePools()
			return err
		},
	}, nil
}

// purgeEvery is how often the example servers delete expired records.
const purgeEvery = time.Minute
