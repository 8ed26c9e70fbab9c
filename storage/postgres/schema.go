package idempg

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
)

//go:embed schema.sql
var schemaSQL string

// strandedReason is the payload Begin gives the uncertain record it makes
// of a stranded claim. It must not contain a quote: it is spliced into
// the schema's SQL.
const strandedReason = "owner lost its lease after declaring effects"

// schemaFor returns the schema's SQL for prefix.
func schemaFor(prefix string) string {
	return strings.NewReplacer("__P__", prefix, "__STRANDED__", strandedReason).Replace(schemaSQL)
}

// Migrate creates or updates the store's tables, sequence and functions
// (with the prefix of WithTablePrefix; other options are ignored). It is
// idempotent, and safe to run from several instances at once (an advisory
// lock serialises them). Run it at deployment or start-up, never on the
// request path: the store itself never creates anything.
func Migrate(ctx context.Context, pool *pgxpool.Pool, opts ...Option) error {
	c := config{prefix: DefaultTablePrefix}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return err
	}
	// No arguments: pgx sends it with the simple protocol, which runs the
	// statements as one transaction.
	if _, err := pool.Exec(ctx, schemaFor(c.prefix)); err != nil {
		return fmt.Errorf("%w: idempg: migrate: %w", core.ErrStoreUnavailable, err)
	}
	return nil
}
