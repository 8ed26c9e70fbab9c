package core

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// runOriginal runs the handler under the claim, then ends the claim: it
// stores the response, releases the key, or, when a retry must not run
// the handler again but there is nothing to replay, leaves a tombstone or
// an uncertain record.
func (e *Engine) runOriginal(r *request, token uint64) error {
	c := &e.cfg
	defer e.flights.claimEnded(r.storeKey) // wakes this process's duplicates (begin.go)
	r.ex.SetHeader("Idempotency-Status", statusOriginal)
	e.attachTx(r, token)
	defer e.rollbackTx(r) // a panic, or a path that did not end it
	var capd Captured
	returned := false
	defer func() {
		if !returned {
			e.panickedHeld(r)
		}
	}()
	lease, herr := e.underClaim(r, token, func() (err error) {
		capd, err = r.ex.Next(r, c.maxResponseBytes)
		return err
	})
	returned = true
	if herr != nil {
		e.sendHeld(r, &capd)
		return herr
	}
	status := capd.Status
	if status == 0 {
		status = 200
	}
	if capd.Header == nil && len(capd.Lines) > 0 {
		groupLines(capd.Lines)
	}
	if !capd.Streamed && (isEventStream(capd.Header) || linesEventStream(capd.Lines)) {
		capd.Streamed = true // delivered as it went, even without a flush
	}
	committed := lease.committed
	switch {
	case lease.lost && !committed:
		// The lease was lost while the handler ran (already reported):
		// another request may own the key now; do not touch it. A
		// committed claim cannot have been taken over: its record is
		// still this token's (uncertain at worst), so it is ended below.
		// Its transaction, if any, cannot commit: rolled back.
		if r.txActive() {
			e.rollbackTx(r)
			r.t.notCommitted = notCommitted("the claim's lease was lost while the handler ran")
		}
	case status >= 500 || !c.cacheable(status):
		// A failure, streamed or not: released (or uncertain after
		// declared effects), never a tombstone, which would tell retries
		// that the operation ran to completion and lock the key out.
		e.endFailed(r, token, lease.until, status, committed, "")
	case capd.Streamed:
		e.endUnstored(r, token, lease.until, status, committed, "response streamed")
	case capd.Oversize:
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: c.maxResponseBytes,
			Detail: "response larger than the max response size: delivered, not stored"})
		e.endUnstored(r, token, lease.until, status, committed, fmt.Sprintf("response larger than %d bytes", c.maxResponseBytes))
	default:
		r.m.Stored = e.complete(r, token, lease, status, &capd)
	}
	r.m.Status, r.m.ResponseSize = status, len(capd.Body)
	return e.sendHeld(r, &capd)
}

// attachTx gives the handler its claim's transaction when the store is a
// TxStore (see TxStore).
func (e *Engine) attachTx(r *request, token uint64) {
	ts, ok := e.cfg.store.(TxStore)
	if !ok {
		return
	}
	r.t = &txState{}
	r.ctx, r.t.tx = ts.ClaimTx(r.ctx, r.storeKey, token)
}

// notCommitted is the problem that replaces a held response whose
// transaction did not commit.
func notCommitted(why string) *Problem {
	p := newProblem(ProblemNotCommitted, 503, why+"; nothing of the operation was committed, or its outcome is unknown: retry the request with the same key, which runs it again or replays its result")
	p.RetryAfter = 1
	return p
}

// sendHeld sends the response held for the handler's transaction, now
// that the transaction has ended: the handler's own, or, when it did not
// commit, a not-committed problem in its place.
func (e *Engine) sendHeld(r *request, capd *Captured) error {
	if r.t == nil {
		return nil
	}
	if r.t.notCommitted != nil && (r.held() || r.t.buffered) {
		r.m.Status = r.t.notCommitted.Status
		r.answered(OutcomeOriginal, r.t.notCommitted.Status)
		resp, err := e.cfg.responder.RespondError(r.req, r.t.notCommitted)
		switch {
		case err != nil && r.held():
			// The framework answers the error; the handler's response
			// must not go out with it.
			r.t.capture.discard(capd.Header, capd.Outer)
			return err
		case err != nil:
			// The framework answers the error over the handler's
			// buffered response: its headers must not go out with it.
			r.ex.Reply(r.t.notCommitted.Status, nil, nil)
			return err
		case r.held():
			r.t.capture.replace(capd.Header, capd.Outer, &resp)
		default:
			r.ex.Reply(resp.Status, resp.Header, resp.Body)
		}
		return nil
	}
	if r.held() {
		status := capd.Status
		if status == 0 {
			status = 200
		}
		r.t.capture.send(status)
	}
	return nil
}

// panickedHeld answers for a handler that panicked while its response
// was held for its transaction, as the panic goes on to the framework's
// recovery: the transaction is rolled back, and the client gets
// not-committed, none of the handler's response. Left to the framework,
// the handler's headers and cookies would go out with its recovery's
// 500, or (Echo, which takes a held response for sent) an empty 200.
func (e *Engine) panickedHeld(r *request) {
	if !r.held() && !(r.t != nil && r.t.buffered && r.t.tx.Begun()) {
		return
	}
	e.rollbackTx(r)
	if r.held() && r.t.capture.recovers {
		r.t.capture.discard(r.t.capture.sink.Header(), r.t.capture.outer)
		return
	}
	r.t.notCommitted = notCommitted("the handler panicked")
	var capd Captured
	if r.held() {
		capd.Header, capd.Outer = r.t.capture.sink.Header(), r.t.capture.outer
	}
	_ = e.sendHeld(r, &capd)
}

// endUnstored ends a claim whose response ran to completion but cannot be
// stored: a tombstone, so that a retry is refused instead of running the
// handler again, or, under WithReleaseUnstored and without declared
// effects, a release.
func (e *Engine) endUnstored(r *request, token uint64, leaseUntil time.Time, status int, committed bool, why string) {
	if e.cfg.releaseUnstored && !committed && !r.txActive() {
		e.release(r, token)
		return
	}
	e.emit(r, &Event{Type: EventResultUnavailable, Status: status,
		Detail: why + ": not stored; a tombstone answers retries with result-unavailable"})
	e.settle(r, token, leaseUntil, status, StateTombstone, []byte(why+" (status "+strconv.Itoa(status)+"); not stored"))
}

// endFailed ends a claim whose handler failed: a non-cacheable status
// (why ""), or an error or a panic (why says which). It is released so
// that a retry runs fresh, unless the handler declared effects: then
// nobody knows whether they happened, and the key becomes uncertain until
// an operator resolves it.
func (e *Engine) endFailed(r *request, token uint64, leaseUntil time.Time, status int, committed bool, why string) {
	e.rollbackTx(r)
	if !committed {
		e.release(r, token)
		return
	}
	if why == "" { // built here: a release, the common case, needs no text
		why = "handler answered " + strconv.Itoa(status)
	}
	e.emit(r, &Event{Type: EventOperationUncertain, Status: status,
		Detail: why + " after declaring effects: the key is uncertain until resolved"})
	e.settle(r, token, leaseUntil, status, StateUncertain, []byte(why+" after declaring effects"))
}

// settle writes a final record that is not a response (a tombstone or an
// uncertain record), with the same fencing and background retry as a
// completion: a lost settle would let the claim expire, and an expired
// uncommitted claim is taken over, which is the re-run it exists to stop.
func (e *Engine) settle(r *request, token uint64, leaseUntil time.Time, status int, state State, reason []byte) {
	reason = e.sealed(r, state, reason)
	err, inTx := e.writeFinal(r, token, state, reason)
	switch {
	case err == nil:
	case inTx:
		e.txFailed(r, token, leaseUntil, status, r.fx.committed, err)
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
			Detail: "fencing rejected the " + state.String() + " record: the lease was lost while the handler ran"})
	default:
		e.completeLater(r, token, leaseUntil, status, state, reason, err)
	}
}

// writeFinal writes a claim's final record: inside the handler's
// transaction when it began one, which then commits (inTx), else with
// Store.Complete.
func (e *Engine) writeFinal(r *request, token uint64, state State, payload []byte) (err error, inTx bool) {
	ctx, cancel := e.storeContext(detached(r.ctx))
	defer cancel()
	if r.txActive() {
		r.t.ended = true
		return r.t.tx.Complete(ctx, state, payload, e.cfg.ttl), true
	}
	return e.cfg.store.Complete(ctx, r.storeKey, token, state, payload, e.cfg.ttl), false
}

// txFailed handles a final record that could not be written in the
// handler's transaction: the transaction did not commit (or its outcome
// is unknown), so the handler's held response is replaced by a problem,
// and the claim ends as a failure would: released, or uncertain after
// declared effects. Both are fenced, so when the commit did land after
// all they change nothing. There is no retry in the background: the
// business writes are gone, and a record written now would claim they
// were made. After ErrLeaseLost another request owns the key: nothing is
// touched.
func (e *Engine) txFailed(r *request, token uint64, leaseUntil time.Time, status int, committed bool, err error) {
	if errors.Is(err, ErrLeaseLost) {
		e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
			Detail: "fencing rejected the transaction's record: the lease was lost while the handler ran; rolled back"})
		r.t.notCommitted = notCommitted("the claim's lease was lost while the handler ran")
		return
	}
	e.emit(r, &Event{Type: EventStoreUnavailable, Status: status, Err: err,
		Detail: "the handler's transaction did not commit (or its outcome is unknown)"})
	r.t.notCommitted = notCommitted("the operation's transaction did not commit")
	e.endFailed(r, token, leaseUntil, status, committed, "transaction did not commit")
}

// leaseState is what was known of a claim when its handler ended.
type leaseState struct {
	lost      bool      // lost while the handler ran (already reported)
	until     time.Time // held at least until then, unless lost
	committed bool      // the handler declared effects (DeclareEffects)
}

// underClaim runs fn while the claim's lease is renewed. When fn returns
// an error or panics, the claim ends as endFailed says (released, or
// uncertain after declared effects), EXCEPTION_THROWN fires, and a panic
// keeps propagating (to the framework's recovery).
func (e *Engine) underClaim(r *request, token uint64, fn func() error) (lease leaseState, err error) {
	r.answered(OutcomeOriginal, 0)
	e.startRenewal(r, token)
	// The handler's time feeds measurements and events only: without a
	// listener for either, the clock is not read.
	var start time.Time
	timed := e.listened()
	if timed {
		start = time.Now()
	}
	elapsed := func() time.Duration {
		if !timed {
			return 0
		}
		return time.Since(start)
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		lost, until := e.stopRenewal(r)
		committed := r.fx.end()
		r.m.Status, r.m.HandlerTime = 500, elapsed()
		e.emit(r, &Event{Type: EventExceptionThrown, Status: 500, Elapsed: r.m.HandlerTime, Detail: "handler panicked"})
		if !lost || committed {
			e.endFailed(r, token, until, 500, committed, "handler panicked")
		}
	}()
	err = fn()
	finished = true
	lease.lost, lease.until = e.stopRenewal(r)
	lease.committed = r.fx.end()
	r.m.HandlerTime = elapsed()
	if err != nil {
		e.emit(r, &Event{Type: EventExceptionThrown, Elapsed: r.m.HandlerTime, Err: err, Detail: "handler returned an error"})
		if !lease.lost || lease.committed {
			e.endFailed(r, token, lease.until, 500, lease.committed, "handler returned an error")
		}
	}
	return lease, err
}

// complete stores the response under the claim. When the store fails,
// the completion goes on in the background until the lease would end
// (completeLater): a response that ran but was not stored would run again
// on a retry once the lease expires, so a short outage should end in a
// replay instead. A store that can never hold the response
// (ErrPayloadTooLarge) gets a tombstone instead.
func (e *Engine) complete(r *request, token uint64, lease leaseState, status int, capd *Captured) bool {
	c := &e.cfg
	var payload []byte
	var err error
	if _, builtin := c.serializer.(BinarySerializer); builtin {
		// The body is copied at most once more: not at all when the
		// adapter captured it with room for the head (see payloadFrame).
		var scratch [captureHeadroom]byte
		var head []byte
		if capd.Header == nil {
			head = encodeLinesHead(scratch[:0], status, capd.Lines, &c.headers, capd.Outer, len(capd.Body))
		} else {
			head = encodeBinaryHead(scratch[:0], status, capd.Header, &c.headers, capd.Outer, len(capd.Body))
		}
		f := frameBody(capd.frame, capd.Body, head, e.sealRoom())
		payload = e.sealedFrame(r, StateCompleted, &f)
	} else {
		h := capd.Header
		if h == nil {
			h = linesHeader(capd.Lines)
		}
		r.resp = Response{Status: status, Header: c.headers.storedHeaders(h, capd.Outer), Body: capd.Body}
		payload, err = c.serializer.Encode(make([]byte, 0, len(capd.Body)+256), &r.resp)
		r.resp = Response{}
		if err == nil {
			payload = e.sealed(r, StateCompleted, payload)
		}
	}
	if err != nil {
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "response could not be encoded"})
		e.endUnstored(r, token, lease.until, status, lease.committed, "response could not be encoded")
		return false
	}
	if c.sizeWarning > 0 && len(capd.Body) > c.sizeWarning {
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: len(capd.Body), Detail: "large response stored"})
	}
	err, inTx := e.writeFinal(r, token, StateCompleted, payload)
	switch {
	case err == nil:
		return true
	case inTx:
		e.txFailed(r, token, lease.until, status, lease.committed, err)
		return false
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
			Detail: "fencing rejected the completion: the lease was lost while the handler ran"})
		return false
	case errors.Is(err, ErrPayloadTooLarge):
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: len(payload), Err: err,
			Detail: "response too large for the store: delivered, not stored"})
		e.endUnstored(r, token, lease.until, status, lease.committed, "response too large for the store")
		return false
	}
	e.completeLater(r, token, lease.until, status, StateCompleted, payload, err)
	return false
}

// detached returns a context for finishing a request's store work: the
// request's own while it is live (no allocation), or one that ignores its
// cancellation once the client has gone, since a claim must still be
// completed or released.
func detached(ctx context.Context) context.Context {
	if ctx.Err() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (e *Engine) release(r *request, token uint64) {
	ctx, cancel := e.storeContext(detached(r.ctx))
	err := e.cfg.store.Release(ctx, r.storeKey, token)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "claim was lost before release"})
	default:
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "claim not released: it frees itself when its lease expires"})
	}
}
