package core

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// background runs an Engine's work that outlives a request: completions
// retried after a store failure, and alert delivery. Close stops it.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // completions being retried: Close waits for them
	loops  sync.WaitGroup // long-lived workers: Close stops them

	pending      atomic.Int64 // completions being retried
	pendingBytes atomic.Int64
}

// Bounds of the completions retried in the background: past them a
// response is left unstored (and reported) rather than held in memory
// without limit while the store is down.
const (
	maxPendingCompletions = 10_000
	maxPendingBytes       = 64 << 20
)

func (b *background) init() {
	b.ctx, b.cancel = context.WithCancel(context.Background())
}

// Close stops the Engine's background work. It first waits, until ctx is
// done, for completions still being retried after a store failure to
// land, then cancels whatever is left: a response whose completion is
// cancelled is not stored, and a retry of its key runs again once the
// lease expires. Requests still being served are not affected. Call it
// on shutdown, after the HTTP server has drained (http.Server.Shutdown).
func (e *Engine) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.bg.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	e.bg.cancel()
	<-done
	e.bg.loops.Wait()
	return err
}

// storeContext bounds one store call by the store timeout (on top of the
// request's own deadline), so that a stalled store cannot hold a request
// longer than configured on any adapter, even where the framework's
// context has no deadline (Fiber).
func (e *Engine) storeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if !e.deadline {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.cfg.storeTimeout)
}

// completeLater retries a completion that failed with err until it lands,
// the claim's lease would end, or the Engine closes. Each attempt is
// fenced by the store like any Complete, so a late success can never
// overwrite a newer owner's result.
func (e *Engine) completeLater(r *request, token uint64, leaseUntil time.Time, status int, state State, payload []byte, err error) {
	b := &e.bg
	size := int64(len(payload))
	n, bytes := b.pending.Add(1), b.pendingBytes.Add(size) // both, then undo both if over
	if n > maxPendingCompletions || bytes > maxPendingBytes {
		b.pending.Add(-1)
		b.pendingBytes.Add(-size)
		e.emit(r, &Event{Type: EventStoreUnavailable, Status: status, Err: err,
			Detail: "response delivered but its " + state.String() + " record not stored (too many completions already waiting for the store); " + afterLease(r)})
		return
	}
	e.emit(r, &Event{Type: EventStoreUnavailable, Status: status, Err: err,
		Detail: "response delivered, its " + state.String() + " record not yet stored: retried in the background until the lease ends"})
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.pending.Add(-1)
		defer b.pendingBytes.Add(-size)
		err := e.retryComplete(r, token, leaseUntil, state, payload, err)
		e.flights.claimEnded(r.storeKey) // the duplicates woken at first may be waiting again
		switch {
		case err == nil:
		case errors.Is(err, ErrLeaseLost):
			e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
				Detail: "fencing rejected the background completion: the lease was lost"})
		default:
			e.emit(r, &Event{Type: EventStoreUnavailable, Status: status, Err: err,
				Detail: "response delivered but its " + state.String() + " record not stored before the lease ended; " + afterLease(r)})
		}
	}()
}

// afterLease says what a retry meets once the claim's lease has expired
// without its final record: a claim that declared effects is never taken
// over (it turns uncertain), any other runs again.
func afterLease(r *request) string {
	if r.fx.committed {
		return "a retry after the lease gets operation-uncertain"
	}
	return "a retry after the lease expires runs again"
}

// retryComplete is completeLater's loop: jittered exponential backoff
// from 20 ms to 1 s, each attempt bounded by the store timeout and by the
// lease's end.
func (e *Engine) retryComplete(r *request, token uint64, leaseUntil time.Time, state State, payload []byte, err error) error {
	c := &e.cfg
	ctx, cancel := context.WithDeadline(e.bg.ctx, leaseUntil)
	defer cancel()
	delay := 20 * time.Millisecond
	timer := time.NewTimer(jitter(delay))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return err // the last store error says more than the deadline
		case <-timer.C:
		}
		callCtx, callCancel := e.storeContext(ctx)
		err = c.store.Complete(callCtx, r.storeKey, token, state, payload, c.ttl)
		callCancel()
		if err == nil || errors.Is(err, ErrLeaseLost) {
			return err
		}
		if errors.Is(err, ErrPayloadTooLarge) && state == StateCompleted {
			// No retry can store it: leave a tombstone instead, as a
			// first completion would have.
			e.emit(r, &Event{Type: EventResultUnavailable, Err: err,
				Detail: "response too large for the store: not stored; a tombstone answers retries with result-unavailable"})
			state, payload = StateTombstone, e.sealed(r, StateTombstone, []byte("response too large for the store; not stored"))
			timer.Reset(0)
			continue
		}
		delay = min(delay*2, time.Second)
		timer.Reset(jitter(delay))
	}
}

// jitter returns a duration between d/2 and d, so that completions that
// failed together do not retry together.
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }
