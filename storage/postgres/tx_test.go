package idempg_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// The store-level tests of the claim's transaction: real business rows in
// a payments table, written through idempg.Tx, committed with the record
// or not at all.

var keySeq atomic.Uint64

// testKey is unique to this test and process run.
func testKey(t testing.TB) string {
	return fmt.Sprintf("tx:%s:%d:%d", t.Name(), time.Now().UnixNano(), keySeq.Add(1))
}

func fpOf(s string) core.Fingerprint {
	var f core.Fingerprint
	copy(f[:], s)
	return f
}

// withoutEngine lets idempg.Tx begin outside an Engine's claim (where
// core.HoldResponse fails), for the tests of the store alone.
func withoutEngine(t testing.TB) {
	t.Cleanup(idempg.SetHoldResponse(func(context.Context) error { return nil }))
}

// payments is the business table: one row per payment, by the request's key.
func payments(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(ctxT(t), `CREATE TABLE IF NOT EXISTS payments (key text PRIMARY KEY, amount int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

// paid counts the payments of key.
func paid(t testing.TB, pool *pgxpool.Pool, key string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctxT(t), `SELECT count(*) FROM payments WHERE key = $1`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func claim(t testing.TB, st *idempg.Store, k string, lease time.Duration) core.BeginResult {
	t.Helper()
	res, err := st.Begin(ctxT(t), k, core.Attempt{Fingerprint: fpOf("a"), Nonce: keySeq.Add(1), Lease: lease, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// claimTx is st.ClaimTx, rolled back when the test ends (a test that
// fails midway must not leave a connection held: the pool's Close would
// wait for it forever).
func claimTx(t testing.TB, st *idempg.Store, ctx context.Context, k string, token uint64) (context.Context, core.ClaimTx) {
	hctx, c := st.ClaimTx(ctx, k, token)
	t.Cleanup(func() { c.Rollback(context.Background()) })
	return hctx, c
}

// pay is a handler's business write: a payment in the claim's transaction.
func pay(ctx context.Context, k string) error {
	tx, err := idempg.Tx(ctx)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO payments (key, amount) VALUES ($1, 100)`, k)
	return err
}

func TestTxCommitsRecordAndBusinessWrite(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	if c.Outcome != core.OutcomeOriginal {
		t.Fatalf("outcome %v", c.Outcome)
	}
	hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
	if ctx2.Begun() {
		t.Fatal("begun before the handler asked for it")
	}
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	if !ctx2.Begun() {
		t.Fatal("Tx did not begin the transaction")
	}
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payment visible before the commit: %d", n)
	}
	if rec, err := st.Get(ctx, k); err != nil || rec.State != core.StateInFlight {
		t.Fatalf("record before the commit = %v, %v", rec.State, err)
	}
	if err := ctx2.Complete(ctx, core.StateCompleted, []byte("paid"), time.Minute); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if n := paid(t, pool, k); n != 1 {
		t.Fatalf("payments after the commit = %d, want 1", n)
	}
	if a := pool.Stat().AcquiredConns(); a != 0 {
		t.Fatalf("%d connections still acquired after the commit", a)
	}
	res := claim(t, st, k, time.Minute)
	if res.Outcome != core.OutcomeRepeated || string(res.Record.Payload) != "paid" || res.Record.Token != c.Token {
		t.Fatalf("replay = %v %q token %d", res.Outcome, res.Record.Payload, res.Record.Token)
	}
	if _, err := idempg.Tx(hctx); !errors.Is(err, idempg.ErrTxEnded) {
		t.Fatalf("Tx after the commit = %v, want ErrTxEnded", err)
	}
	ctx2.Rollback(ctx) // a no-op once ended
	if n := paid(t, pool, k); n != 1 {
		t.Fatalf("Rollback after the commit undid it: %d payments", n)
	}
}

// A takeover after the lease expired fences the old owner's completion:
// its business write is rolled back with it.
func TestTxLostLeaseRollsBackBusinessWrite(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	old := claim(t, st, k, 100*time.Millisecond)
	hctx, ctx2 := claimTx(t, st, ctx, k, old.Token)
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	took := claim(t, st, k, time.Minute)
	if took.Outcome != core.OutcomeOriginal || !took.TookOver {
		t.Fatalf("takeover = %+v", took)
	}
	if err := ctx2.Complete(ctx, core.StateCompleted, []byte("stale"), time.Minute); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale owner's Complete = %v, want ErrLeaseLost", err)
	}
	if a := pool.Stat().AcquiredConns(); a != 0 {
		t.Fatalf("%d connections still acquired after a refused Complete", a)
	}
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("the stale owner's payment was committed (%d rows)", n)
	}
	rec, err := st.Get(ctx, k)
	if err != nil || rec.State != core.StateInFlight || rec.Token != took.Token {
		t.Fatalf("record = %+v, %v; want the new owner's claim", rec, err)
	}
	// The new owner pays once, and completes.
	hctx, ctx2 = claimTx(t, st, ctx, k, took.Token)
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	if err := ctx2.Complete(ctx, core.StateCompleted, []byte("fresh"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := paid(t, pool, k); n != 1 {
		t.Fatalf("payments = %d, want 1", n)
	}
}

// The fence holds under concurrency: a takeover that holds the record's
// row (its Begin not yet committed) makes the old owner's completion
// wait, and then refuse, rolling its business write back. READ COMMITTED
// re-reads the row's newest version after the wait.
func TestTxFenceWaitsForATakeoverHoldingTheRow(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	old := claim(t, st, k, 50*time.Millisecond)
	hctx, ctx2 := claimTx(t, st, ctx, k, old.Token)
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)

	// The takeover, inside a transaction left open.
	other, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Rollback(ctx) }()
	var outcome int32
	var took bool
	if err := other.QueryRow(ctx, `SELECT outcome, took_over FROM idempg_begin($1, $2, 60000, 60000, 42, NULL, 1)`,
		[]byte(k), []byte("a"+string(make([]byte, 31)))).Scan(&outcome, &took); err != nil {
		t.Fatal(err)
	}
	if outcome != 1 || !took {
		t.Fatalf("takeover = %d, took over %v", outcome, took)
	}
	done := make(chan error, 1)
	go func() { done <- ctx2.Complete(ctx, core.StateCompleted, []byte("stale"), time.Minute) }()
	select {
	case err := <-done:
		t.Fatalf("Complete did not wait for the takeover's lock: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := other.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Complete after the takeover committed = %v, want ErrLeaseLost", err)
	}
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payment committed by a fenced owner (%d rows)", n)
	}
}

func TestTxRollbackUndoesBusinessWrite(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	ctx2.Rollback(ctx)
	ctx2.Rollback(ctx) // idempotent
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payments after Rollback = %d", n)
	}
	if a := pool.Stat().AcquiredConns(); a != 0 {
		t.Fatalf("%d connections still acquired after Rollback", a)
	}
	if _, err := idempg.Tx(hctx); !errors.Is(err, idempg.ErrTxEnded) {
		t.Fatalf("Tx after Rollback = %v, want ErrTxEnded", err)
	}
	// The claim is untouched: the Engine releases it as usual.
	if err := st.Release(ctx, k, c.Token); err != nil {
		t.Fatal(err)
	}
}

// The handler cannot end the transaction itself; savepoints are its own.
func TestTxHandlerCannotCommit(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
	tx, err := idempg.Tx(hctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); !errors.Is(err, idempg.ErrTxOwned) {
		t.Fatalf("handler's Commit = %v, want ErrTxOwned", err)
	}
	if err := tx.Rollback(ctx); !errors.Is(err, idempg.ErrTxOwned) {
		t.Fatalf("handler's Rollback = %v, want ErrTxOwned", err)
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Exec(ctx, `INSERT INTO payments (key, amount) VALUES ($1, 1)`, k+":undone"); err != nil {
		t.Fatal(err)
	}
	if err := sp.Rollback(ctx); err != nil {
		t.Fatalf("savepoint rollback: %v", err)
	}
	again, err := idempg.Tx(hctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Exec(ctx, `INSERT INTO payments (key, amount) VALUES ($1, 1)`, k); err != nil {
		t.Fatal(err)
	}
	if err := ctx2.Complete(ctx, core.StateCompleted, []byte("ok"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if paid(t, pool, k) != 1 || paid(t, pool, k+":undone") != 0 {
		t.Fatalf("payments: %d, undone %d; want 1 and 0", paid(t, pool, k), paid(t, pool, k+":undone"))
	}
}

// A handler that never asks for the transaction leaves it unbegun: the
// Engine completes through Store.Complete as for any store.
func TestTxUnused(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	_, ctx2 := claimTx(t, st, ctx, k, c.Token)
	if ctx2.Begun() {
		t.Fatal("begun")
	}
	if err := ctx2.Complete(ctx, core.StateCompleted, nil, time.Minute); err == nil {
		t.Fatal("Complete of a transaction never begun succeeded")
	}
	ctx2.Rollback(ctx)
	if err := st.Complete(ctx, k, c.Token, core.StateCompleted, []byte("ok"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := idempg.Tx(ctx); !errors.Is(err, idempg.ErrNoTx) {
		t.Fatalf("Tx outside a claim = %v, want ErrNoTx", err)
	}
}

// Tx begins nothing when the response can no longer be held.
func TestTxHoldResponseRefused(t *testing.T) {
	errStarted := errors.New("response already started")
	t.Cleanup(idempg.SetHoldResponse(func(context.Context) error { return errStarted }))
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
	if _, err := idempg.Tx(hctx); !errors.Is(err, errStarted) {
		t.Fatalf("Tx = %v, want HoldResponse's error", err)
	}
	if ctx2.Begun() {
		t.Fatal("begun although HoldResponse failed")
	}
}

// A handler's transaction holds a pool connection for its whole run:
// renewals on their own pool (WithRenewPool) still go through when every
// connection of the store's pool is held, and on the store's pool they
// would wait.
func TestTxRenewalsWhileHandlersHoldTransactions(t *testing.T) {
	withoutEngine(t)
	const handlers = 3
	pool := newPool(t, func(c *pgxpool.Config) { c.MaxConns = handlers })
	renewPool := newPool(t, func(c *pgxpool.Config) { c.MaxConns = 1 })
	payments(t, pool)
	st := newStore(t, pool, idempg.WithRenewPool(renewPool))
	ctx := ctxT(t)
	lease := 150 * time.Millisecond
	var rs []core.Renewal
	var txs []core.ClaimTx
	for i := 0; i < handlers; i++ {
		k := testKey(t)
		c := claim(t, st, k, lease)
		hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
		if err := pay(hctx, k); err != nil { // holds a connection until the end
			t.Fatal(err)
		}
		rs = append(rs, core.Renewal{Key: k, Token: c.Token})
		txs = append(txs, ctx2)
	}
	if s := pool.Stat(); s.AcquiredConns() != handlers {
		t.Fatalf("acquired connections = %d, want all %d held by the handlers", s.AcquiredConns(), handlers)
	}
	// On the store's own pool a renewal has no connection.
	starved := newStore(t, pool)
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	err := starved.Renew(sctx, rs[0].Key, rs[0].Token, lease)
	cancel()
	if !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Renew on the exhausted pool = %v, want a timeout", err)
	}
	for end := time.Now().Add(3 * lease); time.Now().Before(end); {
		time.Sleep(lease / 3)
		st.RenewBatch(ctx, lease, rs)
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("renewal while handlers hold transactions: %v", r.Err)
			}
		}
	}
	for i, c := range txs {
		if err := c.Complete(ctx, core.StateCompleted, []byte("ok"), time.Minute); err != nil {
			t.Fatalf("Complete %d after three leases: %v", i, err)
		}
		if n := paid(t, pool, rs[i].Key); n != 1 {
			t.Fatalf("payments = %d", n)
		}
	}
}
