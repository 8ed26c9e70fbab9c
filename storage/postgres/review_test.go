package idempg_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// A handler that writes in its claim's transaction and then declares
// effects (core.DeclareEffects: Store.Commit) before calling a payment
// provider holds one connection and needs another: with as many such
// handlers as the store's pool has connections, Commit on that pool waits
// for a connection only a finished handler frees, and every handler fails
// at its store deadline. Commit goes through the renewal pool
// (WithRenewPool), as renewals do.
func TestTxCommitWhileHandlersHoldTransactions(t *testing.T) {
	withoutEngine(t)
	const handlers = 3
	pool := newPool(t, func(c *pgxpool.Config) { c.MaxConns = handlers })
	renewPool := newPool(t, func(c *pgxpool.Config) { c.MaxConns = 1 })
	payments(t, pool)
	st := newStore(t, pool, idempg.WithRenewPool(renewPool))
	ctx := ctxT(t)
	type held struct {
		key string
		tok uint64
		tx  core.ClaimTx
	}
	var hs []held
	for i := 0; i < handlers; i++ {
		k := testKey(t)
		c := claim(t, st, k, time.Minute)
		hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
		if err := pay(hctx, k); err != nil { // holds a connection until the end
			t.Fatal(err)
		}
		hs = append(hs, held{k, c.Token, ctx2})
	}
	if s := pool.Stat(); s.AcquiredConns() != handlers {
		t.Fatalf("acquired connections = %d, want all %d held by the handlers", s.AcquiredConns(), handlers)
	}
	for _, h := range hs {
		cctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := st.Commit(cctx, h.key, h.tok, nil)
		cancel()
		if err != nil {
			t.Fatalf("Commit while every connection of the pool is held by a handler: %v", err)
		}
	}
	for _, h := range hs {
		if err := h.tx.Complete(ctx, core.StateCompleted, []byte("ok"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if rec, err := st.Get(ctx, h.key); err != nil || rec.State != core.StateCompleted {
			t.Fatalf("record = %v, %v", rec.State, err)
		}
	}
}

// A handler that ends the claim's transaction itself with SQL (ROLLBACK
// or COMMIT through Exec, past ErrTxOwned) leaves the connection outside
// any transaction: the completion would then commit the record on its own,
// a success replayed for writes that were rolled back. Nobody knows what
// the handler's writes became: the record turns uncertain and Complete
// fails.
func TestTxEndedByHandlerSQL(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	for _, stmt := range []string{"ROLLBACK", "COMMIT"} {
		k := testKey(t)
		c := claim(t, st, k, time.Minute)
		hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
		if err := pay(hctx, k); err != nil {
			t.Fatal(err)
		}
		tx, err := idempg.Tx(hctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(hctx, stmt); err != nil {
			t.Fatal(err)
		}
		if err := ctx2.Complete(ctx, core.StateCompleted, []byte("paid"), time.Minute); err == nil {
			t.Fatalf("%s: Complete = nil after the handler ended the transaction", stmt)
		}
		rec, err := st.Get(ctx, k)
		if err != nil || rec.State != core.StateUncertain {
			t.Fatalf("%s: record = %v, %v; want uncertain", stmt, rec.State, err)
		}
		if err := st.Release(ctx, k, c.Token); err == nil {
			t.Fatalf("%s: the Engine's release after the failure deleted the uncertain record", stmt)
		}
		if a := pool.Stat().AcquiredConns(); a != 0 {
			t.Fatalf("%s: %d connections still acquired", stmt, a)
		}
	}
}

// An expired record is absent to every call whatever its format (Get,
// Release, Resolve, Purge agree): a record of an unknown format fails
// closed until it expires, not until a purge reaches it. Begin claims the
// key afresh, in this code's format.
func TestExpiredUnknownFormatIsAbsent(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	claim(t, st, k, time.Minute)
	if _, err := pool.Exec(ctx, `UPDATE idempg_records SET version = 9, expires_at = now() - interval '1 s' WHERE key = $1`, []byte(k)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, k); err != core.ErrNotFound {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("b"), Nonce: 7, Lease: time.Minute, TTL: time.Minute})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin = %v, %v; want a fresh claim", res.Outcome, err)
	}
	rec, err := st.Get(ctx, k)
	if err != nil || rec.State != core.StateInFlight || rec.Token != res.Token || rec.Fingerprint != fpOf("b") {
		t.Fatalf("record after Begin = %+v, %v", rec, err)
	}
	if err := st.Complete(ctx, k, res.Token, core.StateCompleted, []byte("r"), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// A goroutine of the handler that asks for the claim's transaction after
// the handler returned (the claim ended without one) must not get one:
// nobody would ever end it (its Commit and Rollback return ErrTxOwned),
// and its pool connection would be held for good.
func TestTxAfterTheClaimEndedLeaksNoConnection(t *testing.T) {
	if srv == nil {
		t.Skip("no PostgreSQL server (pgtest)")
	}
	pool, err := pgxpool.New(context.Background(), srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pool.Stat().AcquiredConns() == 0 { // Close would wait for a leaked connection forever
			pool.Close()
		}
	})
	payments(t, pool)
	st := newStore(t, pool)
	eng := newEngine(t, st)
	ctx := ctxT(t)
	k := doKey()
	late := make(chan error, 1)
	var hctx context.Context
	if _, _, err := eng.Do(ctx, "pay", k, fpOf("a"), func(c context.Context) ([]byte, error) {
		hctx = c
		return []byte("ok"), nil
	}); err != nil {
		t.Fatal(err)
	}
	go func() { _, err := idempg.Tx(hctx); late <- err }()
	if err := <-late; err == nil {
		t.Error("Tx after the claim ended = nil, want an error")
	}
	if a := pool.Stat().AcquiredConns(); a != 0 {
		t.Fatalf("%d connections held after the claim ended", a)
	}
}
