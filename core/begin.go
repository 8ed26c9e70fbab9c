package core

import (
	"math/rand/v2"
	"time"
)

// beginWait claims the key or, while another request holds it with the
// same fingerprint, polls for up to the lock wait. Polling through Begin
// means a waiter also takes over a claim whose owner died or released it.
func (e *Engine) beginWait(r *request, fp Fingerprint) (BeginResult, error) {
	c := &e.cfg
	a := Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: c.lease, TTL: e.claimTTL}
	r.fpv = fp
	if e.ring != nil {
		a.Sig = e.ring.claimSig(r.storeKey, &r.fpv)
	}
	res, err := e.begin(r, a)
	if err != nil || res.Outcome != OutcomeConflict || c.lockWait <= 0 {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(c.lockWait)
	delay := 2 * time.Millisecond
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		d := delay/2 + rand.N(delay/2+1) // jitter spreads a herd of waiters
		if d > left {
			d = left
		}
		timer.Reset(d)
		select {
		case <-r.ctx.Done():
			r.m.LockWait = time.Since(start)
			return res, nil // the client left; it gets the conflict it will not read
		case <-timer.C:
		}
		res, err = e.begin(r, a)
		if err != nil || res.Outcome != OutcomeConflict {
			break
		}
		if delay < 50*time.Millisecond {
			delay = delay * 3 / 2
		}
	}
	r.m.LockWait = time.Since(start)
	return res, err
}

// begin sends one Begin under the store deadline and reports records the
// store evicted early to make room for it.
func (e *Engine) begin(r *request, a Attempt) (BeginResult, error) {
	ctx, cancel := e.storeContext(r.ctx)
	r.begunAt = time.Now()
	res, err := e.cfg.store.Begin(ctx, r.storeKey, a)
	cancel()
	if err == nil && e.ring != nil && res.Outcome != OutcomeOriginal {
		if err = e.verifyRecord(r.storeKey, &res.Record); err != nil {
			return BeginResult{}, err
		}
	}
	if err == nil && res.Stranded {
		e.emit(r, &Event{Type: EventOperationUncertain,
			Detail: "the owner of a claim that declared effects died or lost its lease: the key is uncertain until resolved"})
	}
	if err == nil && res.Evicted > 0 {
		e.emit(r, &Event{Type: EventRecordEvicted, Hits: res.Evicted,
			Detail: "the store evicted completed records before their TTL to make room: a retry of those keys would run again; raise the store's bounds or rate-limit clients"})
	}
	return res, err
}
