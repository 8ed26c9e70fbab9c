package core

import (
	"context"
	"time"
)

// TxStore is a Store whose claims can be completed inside a database
// transaction that the handler shares (storage/postgres): the handler's
// business writes and the idempotency record commit together or not at
// all.
//
// The Engine calls ClaimTx once a claim is won, before the handler runs,
// and runs the handler with the context it returns. The store's own
// accessor (idempg.Tx) begins the transaction when the handler first asks
// for it, after HoldResponse has succeeded. When the handler has begun
// it, the Engine ends the claim through the ClaimTx instead of the Store:
// the final record (completed, or a tombstone) is written by
// ClaimTx.Complete, inside the transaction, which then commits; every
// other ending (a failure, a lost lease) rolls it back first. A handler
// that never begins it is served exactly as with any Store.
type TxStore interface {
	Store
	// ClaimTx attaches the transaction of the claim on key, held with
	// token, to ctx, without I/O.
	ClaimTx(ctx context.Context, key string, token uint64) (context.Context, ClaimTx)
}

// ClaimTx is the transaction of one claim (see TxStore).
type ClaimTx interface {
	// Begun reports whether the handler began the transaction.
	Begun() bool
	// Complete writes the final record (state, payload and ttl as in
	// Store.Complete) inside the transaction, fenced by the claim's
	// token, then commits. ErrLeaseLost: the claim is no longer held with
	// the token, and the transaction was rolled back. Any other error:
	// rolled back, or COMMIT's outcome is unknown. The Engine calls it at
	// most once, and only when Begun.
	Complete(ctx context.Context, state State, payload []byte, ttl time.Duration) error
	// Rollback ends a begun transaction without committing. It is a
	// no-op when the transaction was never begun or has ended.
	Rollback(ctx context.Context)
}

// HoldResponse makes the response of the handler running with ctx wait
// until its claim's transaction has committed: nothing of it reaches the
// client before, and if the transaction does not commit the client gets
// a 503 not-committed problem instead, whatever the handler wrote. A
// TxStore's accessor calls it before beginning the transaction; handlers
// need not call it themselves.
//
// Call it on the handler's goroutine, before writing anything. While the
// response is held, Flush does not stream (the whole response is sent
// once committed) and Hijack fails.
//
// It returns ErrNoClaim outside a handler running under a claim,
// ErrResponseStarted when part of the response has already been sent, and
// ErrHoldUnsupported when the adapter cannot hold responses or the
// Engine's store is not a TxStore (nothing would ever release them). In Engine.Do
// there is no response to hold: it returns nil.
func HoldResponse(ctx context.Context) error {
	r, ok := claimOf(ctx)
	if !ok {
		return ErrNoClaim
	}
	switch {
	case r.ex == nil:
		return nil
	case r.t == nil:
		return ErrHoldUnsupported // not a TxStore: no transaction to wait for
	case r.t.buffered:
		return nil
	case r.t.capture == nil:
		return ErrHoldUnsupported
	case r.t.capture.sent:
		return ErrResponseStarted
	}
	r.t.capture.held = true
	return nil
}

// BufferedResponse tells the Engine that the framework serving the
// request whose handler runs with ctx sends nothing before the handler
// chain has returned (fasthttp), so its responses are held without a
// BodyCapture (see HoldResponse). Adapters call it from Exchange.Next.
func BufferedResponse(ctx context.Context) {
	if r, ok := claimOf(ctx); ok && r.t != nil {
		r.t.buffered = true
	}
}

// txState is what a request on a TxStore knows of its claim's
// transaction and of holding its response back.
type txState struct {
	tx    ClaimTx
	ended bool // the Engine ended the transaction
	// capture is the adapter's BodyCapture, bound by its Start; buffered
	// says the framework holds responses itself (BufferedResponse).
	capture  *BodyCapture
	buffered bool
	// notCommitted, when set, answers the request instead of the
	// handler's held response: its transaction did not commit.
	notCommitted *Problem
}

// txActive reports whether the handler began its claim's transaction and
// the Engine has not ended it yet.
func (r *request) txActive() bool {
	return r.t != nil && !r.t.ended && r.t.tx.Begun()
}

// rollbackTx ends the claim's transaction without committing, when the
// handler began it: before a release, an uncertain record or a lost
// lease, the business writes must be gone. One never begun is ended too
// (a no-op but for the store's bookkeeping): a goroutine of the handler
// that asks for it after the claim ended must be refused, not given a
// transaction nobody would ever end.
func (e *Engine) rollbackTx(r *request) {
	if r.t == nil || r.t.ended {
		return
	}
	if !r.t.tx.Begun() {
		r.t.ended = true
		r.t.tx.Rollback(context.Background())
		return
	}
	r.t.ended = true
	ctx, cancel := e.storeContext(detached(r.ctx))
	r.t.tx.Rollback(ctx)
	cancel()
}

// held reports whether the handler's response is being held back for its
// transaction, by the capture (not by a buffering framework, which needs
// nothing done).
func (r *request) held() bool { return r.t != nil && r.t.capture != nil && r.t.capture.held }
