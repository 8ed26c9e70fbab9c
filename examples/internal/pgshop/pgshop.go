// Package pgshop is the shop's payments table on PostgreSQL, for the
// example servers started with -postgres: Migrate creates the table next
// to idempg's, and Ledger writes each payment in the transaction of the
// request's idempotency claim (idempg.Tx), so that the payment row and
// the idempotency record commit together or not at all.
package pgshop

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// Table is the table Migrate creates and Ledger writes.
const Table = "payments"

// schema is idempotent, like idempg's: every instance runs it at
// start-up. The id is an identity, so that instances sharing the database
// never hand out one payment number twice (a rolled-back payment leaves a
// gap, which is how sequences work).
const schema = `CREATE TABLE IF NOT EXISTS ` + Table + ` (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	amount     bigint NOT NULL CHECK (amount > 0),
	currency   char(3) NOT NULL,
	user_id    text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT clock_timestamp()
)`

// Migrate creates the payments table if it does not exist. Run it at
// start-up with idempg.Migrate, never per request.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, schema); err != nil {
		return fmt.Errorf("pgshop: migrate: %w", err)
	}
	return nil
}

// Ledger is a shop.Ledger on the payments table.
type Ledger struct{ pool *pgxpool.Pool }

var _ shop.Ledger = (*Ledger)(nil)

// NewLedger returns the Ledger of the payments table that Migrate created
// in pool's database. pool is only read from (GET /stats); the payments
// are written through the claim's transaction, which the idempg store
// opens on its own pool.
func NewLedger(pool *pgxpool.Pool) *Ledger { return &Ledger{pool: pool} }

// RecordPayment implements shop.Ledger: one INSERT in the claim's
// transaction (idempg.Tx, which begins it and holds the response until it
// commits). Without a claim of an idempg store (idempg.ErrNoTx) the error
// wraps core.ErrNoClaim: the payment is refused rather than written
// outside the claim.
func (l *Ledger) RecordPayment(ctx context.Context, p shop.Payment) (int64, error) {
	tx, err := idempg.Tx(ctx)
	if errors.Is(err, idempg.ErrNoTx) {
		return 0, fmt.Errorf("%w: %w", core.ErrNoClaim, err)
	}
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO `+Table+` (amount, currency, user_id) VALUES ($1, $2, $3) RETURNING id`,
		p.Amount, p.Currency, p.User).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("pgshop: insert payment: %w", err)
	}
	return id, nil
}

// Payments implements shop.Ledger: the committed rows of the table.
func (l *Ledger) Payments(ctx context.Context) (int64, error) {
	var n int64
	if err := l.pool.QueryRow(ctx, `SELECT count(*) FROM `+Table).Scan(&n); err != nil {
		return 0, fmt.Errorf("pgshop: count payments: %w", err)
	}
	return n, nil
}
