package core_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// inTx is a handler that begins the claim's transaction, inserts row and
// answers 201.
func inTx(row string) fakeHandler {
	return func(ctx context.Context, w *fakeWriter) error {
		tx, err := coretest.BeginTx(ctx)
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(err.Error()))
			return nil
		}
		tx.Insert(row)
		w.Header().Set("Location", "/items/1")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("created"))
		return nil
	}
}

const txKeyA = "00000000-0000-4000-8000-00000000000a"

// lostRenewals is a TxStore whose renewals report the lease lost.
type lostRenewals struct{ *coretest.TxStore }

func (lostRenewals) Renew(context.Context, string, uint64, time.Duration) error {
	return core.ErrLeaseLost
}

// A handler whose lease is lost while it runs cannot commit: its held
// response is replaced by not-committed and its rows are gone. Seen
// failing with the lost-lease rollback removed (the 201 went out).
func TestTxLostLeaseHoldsBackTheResponse(t *testing.T) {
	st := coretest.NewTxStore(memory.New())
	e := newEngine(t, core.WithStore(lostRenewals{st}), core.WithLease(30*time.Millisecond))
	x := newPost(txKeyA, `{}`, func(ctx context.Context, w *fakeWriter) error {
		err := inTx("lost")(ctx, w)
		time.Sleep(60 * time.Millisecond) // past a renewal, which reports the lease lost
		return err
	})
	if _, err := serve(e, x); err != nil {
		t.Fatal(err)
	}
	if x.status != http.StatusServiceUnavailable || x.respHdr.Get("Location") != "" {
		t.Fatalf("lost lease answered %d %v %q, want 503 not-committed without the handler's headers", x.status, x.respHdr, x.respBody)
	}
	if rows := st.Rows(); len(rows) != 0 {
		t.Fatalf("rows = %v after a lost lease", rows)
	}
}

// HoldResponse refuses once the response has started, and outside a
// claim; Engine.Do has nothing to hold.
func TestHoldResponseRefusals(t *testing.T) {
	if err := core.HoldResponse(context.Background()); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("outside a claim: %v", err)
	}
	var plain error // a store without transactions has nothing to hold for
	if _, err := serve(newEngine(t), newPost(txKeyA, `{}`, func(ctx context.Context, w *fakeWriter) error {
		plain = core.HoldResponse(ctx)
		return respond(http.StatusCreated, "created")(ctx, w)
	})); err != nil || !errors.Is(plain, core.ErrHoldUnsupported) {
		t.Fatalf("HoldResponse on a memory store: %v (serve: %v), want ErrHoldUnsupported", plain, err)
	}
	st := coretest.NewTxStore(memory.New())
	e := newEngine(t, core.WithStore(st))
	var late error
	x := newPost(txKeyA, `{}`, func(ctx context.Context, w *fakeWriter) error {
		_, _ = w.Write([]byte("started"))
		_, late = coretest.BeginTx(ctx)
		return nil
	})
	if _, err := serve(e, x); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(late, core.ErrResponseStarted) || string(x.respBody) != "started" {
		t.Fatalf("BeginTx after writing: %v, client got %q", late, x.respBody)
	}
	out, _, err := e.Do(context.Background(), "s", "k", core.Fingerprint{1}, func(ctx context.Context) ([]byte, error) {
		tx, err := coretest.BeginTx(ctx)
		if err != nil {
			return nil, err
		}
		tx.Insert("do")
		return []byte("ok"), nil
	})
	if err != nil || string(out) != "ok" {
		t.Fatalf("Do in a transaction: %q %v", out, err)
	}
	if rows := st.Rows(); len(rows) != 1 || rows[0] != "do" {
		t.Fatalf("rows = %v, want Do's", rows)
	}
}

// Engine.Do whose transaction does not commit returns ErrNotCommitted,
// never fn's result; the key is released, and the next Do runs fn again.
func TestDoTxNotCommitted(t *testing.T) {
	st := coretest.NewTxStore(memory.New())
	e := newEngine(t, core.WithStore(st))
	st.FailCommits.Store(1)
	runs := 0
	fn := func(ctx context.Context) ([]byte, error) {
		runs++
		tx, err := coretest.BeginTx(ctx)
		if err != nil {
			return nil, err
		}
		tx.Insert("row")
		return []byte("ok"), nil
	}
	out, _, err := e.Do(context.Background(), "s", "k", core.Fingerprint{1}, fn)
	if !errors.Is(err, core.ErrNotCommitted) || out != nil {
		t.Fatalf("first Do: %q %v, want ErrNotCommitted", out, err)
	}
	out, replayed, err := e.Do(context.Background(), "s", "k", core.Fingerprint{1}, fn)
	if err != nil || replayed || string(out) != "ok" || runs != 2 {
		t.Fatalf("second Do: %q replayed=%v %v after %d runs", out, replayed, err, runs)
	}
	if rows := st.Rows(); len(rows) != 1 {
		t.Fatalf("rows = %v, want one", rows)
	}
}
