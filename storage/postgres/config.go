package idempg

import (
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
)

// DefaultTablePrefix starts the name of every table, sequence and
// function the store creates (idempg_records, idempg_tokens,
// idempg_cooldowns, idempg_begin, ...).
const DefaultTablePrefix = "idempg_"

// DefaultPurgeBatch is how many expired records one statement of Purge
// deletes at most (WithPurgeInterval's batches).
const DefaultPurgeBatch = 1000

type config struct {
	prefix     string
	renew      *pgxpool.Pool
	purgeEvery time.Duration
	purgeBatch int
}

// Option configures a Store.
type Option func(*config)

// validPrefix keeps the prefix a plain SQL identifier start: it is spliced
// into statements, never quoted.
var validPrefix = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,40}$`)

// WithTablePrefix sets the prefix of the store's tables, sequence and
// functions, so that several applications (or test runs) share one
// database: lower-case letters, digits and underscores, starting with a
// letter or underscore, at most 41 characters. Default "idempg_". Migrate
// and New must be given the same prefix. To put the tables in another
// schema, set the pool's search_path.
func WithTablePrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithRenewPool sends lease renewals (Renew, RenewBatch) and Commit
// (core.DeclareEffects) through their own pool, e.g. one of 2
// connections, instead of the store's pool.
//
// Renewals must never wait for a connection: a handler that uses the
// claim's transaction (Tx) holds one of the store's connections for its
// whole run, so with as many such handlers running as the pool has
// connections, a renewal waits until a handler ends, and a wait longer
// than the lease's slack loses the lease of a handler that is still
// running (its completion is then refused and its writes rolled back).
// Likewise a handler that declares effects after writing in its
// transaction holds one connection and needs another for Commit: with
// every connection so held, each would wait for the others to end.
// A renewal pass needs one connection: the Engine renews every due claim
// with one RenewBatch, one statement. The store does not close it. nil
// keeps renewals on the store's pool. See the package documentation on
// sizing the pool.
func WithRenewPool(pool *pgxpool.Pool) Option {
	return func(c *config) { c.renew = pool }
}

// WithPurgeInterval starts a background purger that deletes expired
// records every d, in batches of batch (0: DefaultPurgeBatch), until
// Close. Default: none (call Purge from a job of your own, or let the
// records stay: expired records are absent to every call, they only take
// space). d must be positive.
func WithPurgeInterval(d time.Duration, batch int) Option {
	return func(c *config) { c.purgeEvery, c.purgeBatch = d, batch }
}

func (c *config) validate() error {
	if !validPrefix.MatchString(c.prefix) {
		return fmt.Errorf("%w: idempg: table prefix %q, want [a-z_][a-z0-9_]{0,40}", core.ErrInvalidOption, c.prefix)
	}
	if c.purgeEvery < 0 || c.purgeBatch < 0 {
		return fmt.Errorf("%w: idempg: purge interval %v, batch %d", core.ErrInvalidOption, c.purgeEvery, c.purgeBatch)
	}
	if c.purgeBatch == 0 {
		c.purgeBatch = DefaultPurgeBatch
	}
	return nil
}
