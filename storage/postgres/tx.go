package idempg

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idemkit/idempotency/core"
)

var _ core.TxStore = (*Store)(nil)

var (
	// ErrNoTx is returned by Tx outside a claim of an idempg store: a
	// request without an idempotency key, a route the middleware does not
	// cover, another store.
	ErrNoTx = errors.New("idempg: no claim transaction in this context")
	// ErrTxOwned is returned by Commit and Rollback of the transaction Tx
	// returns: the Engine ends it, committing it with the record.
	ErrTxOwned = errors.New("idempg: the claim's transaction is ended by the Engine, not the handler")
	// ErrTxEnded is returned by Tx once the claim's transaction has ended
	// (committed with the record, or rolled back).
	ErrTxEnded = errors.New("idempg: the claim's transaction has ended")
)

// holdResponse is core.HoldResponse; tests of the store alone replace it
// (outside an Engine's claim it always fails).
var holdResponse = core.HoldResponse

// txKey is the context key of a claim's transaction.
type txKey struct{}

// claimTx is the transaction of one claim (core.ClaimTx), begun lazily by
// the handler's first Tx.
type claimTx struct {
	s     *Store
	key   string
	token uint64

	mu    sync.Mutex
	tx    pgx.Tx // nil until begun
	ended bool
}

// ClaimTx implements core.TxStore: it attaches the transaction of the
// claim on key, held with token, to ctx, without I/O. The handler gets it
// with Tx.
func (s *Store) ClaimTx(ctx context.Context, key string, token uint64) (context.Context, core.ClaimTx) {
	c := &claimTx{s: s, key: key, token: token}
	return context.WithValue(ctx, txKey{}, c), c
}

// Tx returns the transaction of the request's claim, in which the Engine
// writes the completed record: the handler's writes in it and the record
// commit together or not at all. A handler that crashes, fails, loses its
// lease or whose completion is refused leaves neither; a retry then runs
// afresh (or replays once it committed).
//
// The first call begins the transaction (READ COMMITTED, on a connection
// of the store's pool, held until the Engine ends it), after
// core.HoldResponse: the response is held until the transaction has
// committed, so that a client never sees a success whose writes were
// rolled back. Its error (the response has already started) is returned.
// Later calls return the same transaction. Its Commit and Rollback return
// ErrTxOwned (the Engine ends it); Begin makes a savepoint, which the
// handler may commit or roll back. A handler that ends it anyway with SQL
// (COMMIT or ROLLBACK through Exec) leaves the claim's record uncertain:
// nothing then tells whether its writes committed. Like any pgx.Tx it is not safe for
// concurrent use. Outside a claim of an idempg store Tx returns ErrNoTx.
func Tx(ctx context.Context) (pgx.Tx, error) {
	c, ok := ctx.Value(txKey{}).(*claimTx)
	if !ok {
		return nil, ErrNoTx
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return nil, ErrTxEnded
	}
	if c.tx == nil {
		if err := holdResponse(ctx); err != nil {
			return nil, err
		}
		tx, err := c.s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
		if err != nil {
			return nil, unavailable(err)
		}
		c.tx = tx
	}
	return handlerTx{c.tx}, nil
}

// handlerTx is the claim's transaction as the handler sees it.
type handlerTx struct{ pgx.Tx }

// Commit returns ErrTxOwned: the Engine commits the transaction with the
// record.
func (handlerTx) Commit(context.Context) error { return ErrTxOwned }

// Rollback returns ErrTxOwned: to undo its writes, a handler fails (or
// uses a savepoint, Begin).
func (handlerTx) Rollback(context.Context) error { return ErrTxOwned }

// Begun implements core.ClaimTx.
func (c *claimTx) Begun() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tx != nil
}

// Complete implements core.ClaimTx: the record is written by the complete
// function inside the transaction, which locks the record's row and
// checks the claim's token (so a takeover after a lost lease makes it
// refuse: core.ErrLeaseLost, rolled back), then the transaction commits.
// Under READ COMMITTED the lock waits for any Begin that holds the row and
// then reads its committed version, and once taken it is held to COMMIT:
// no Begin can take over between the check and the commit.
//
// Any other error leaves the outcome to the caller to find out (Get): a
// failed statement rolled back, a failed COMMIT may or may not have
// committed.
func (c *claimTx) Complete(ctx context.Context, state core.State, payload []byte, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tx == nil || c.ended {
		return fmt.Errorf("idempg: ClaimTx.Complete of a transaction not begun or ended")
	}
	if !state.Final() {
		return fmt.Errorf("idempg: ClaimTx.Complete with state %v, want completed, tombstone or uncertain", state)
	}
	c.ended = true
	if c.tx.Conn().PgConn().TxStatus() == 'I' {
		return c.endedByHandler(ctx, ttl)
	}
	var n int32
	err := c.tx.QueryRow(ctx, c.s.q.complete, []byte(c.key), int64(c.token), int16(state), payload, ms(ttl), FormatVersion, c.s.channel).Scan(&n)
	if err != nil || n == 0 {
		rollback(ctx, c.tx)
		if err != nil {
			return unavailable(err)
		}
		return core.ErrLeaseLost
	}
	if err := c.tx.Commit(ctx); err != nil {
		return unavailable(fmt.Errorf("commit (outcome unknown): %w", err))
	}
	return nil
}

// errTxEndedByHandler is ClaimTx.Complete's error when the handler ended
// the transaction itself.
var errTxEndedByHandler = errors.New("idempg: the handler ended the claim's transaction itself (COMMIT or ROLLBACK through Exec): the record is uncertain")

// endedByHandler ends a claim whose handler ended its transaction itself
// with SQL (COMMIT or ROLLBACK through Exec, past ErrTxOwned): the
// connection is outside any transaction, so the record would commit on its
// own whatever became of the handler's writes. Nobody knows which: the
// record turns uncertain (fenced, on the same connection), so that
// retries neither replay a success whose writes may be gone nor run the
// handler again over writes that may have committed.
func (c *claimTx) endedByHandler(ctx context.Context, ttl time.Duration) error {
	defer rollback(ctx, c.tx) // ends pgx's transaction, frees the connection
	var n int32
	err := c.tx.QueryRow(ctx, c.s.q.complete, []byte(c.key), int64(c.token), int16(core.StateUncertain),
		[]byte("the handler ended its transaction itself"), ms(ttl), FormatVersion, c.s.channel).Scan(&n)
	switch {
	case err != nil:
		return unavailable(fmt.Errorf("%w: %w", errTxEndedByHandler, err))
	case n == 0:
		return core.ErrLeaseLost
	}
	return unavailable(errTxEndedByHandler)
}

// Rollback implements core.ClaimTx. Later Tx calls return ErrTxEnded.
func (c *claimTx) Rollback(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return
	}
	c.ended = true
	if c.tx != nil {
		rollback(ctx, c.tx)
	}
}

// rollback rolls tx back even when ctx has ended (a request the client
// left): pgx would otherwise close the connection, which rolls back too,
// but costs a new connection.
func rollback(ctx context.Context, tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = tx.Rollback(ctx)
}
