package core

import (
	"context"
	"errors"
	"sync"
	"time"
)

// renewer keeps the leases of an Engine's running claims alive from one
// goroutine. It starts with the first claim and stops when none is left,
// so an idle Engine runs nothing, and a claim costs no timer or goroutine
// of its own: most handlers finish long before their first renewal.
//
// A pass renews every due claim at once: in one round trip when the store
// is a BatchRenewer, otherwise with up to renewParallel calls in flight.
// A pass therefore costs about one store latency however many handlers
// run; renewing one claim after another cost claims × latency, and at
// 500 claims and 100 ms that outlasted the lease.
type renewer struct {
	mu      sync.Mutex
	head    claim // sentinel of the list of running claims
	running bool
	due     []*claim  // scratch for the loop, reused between passes
	batch   []Renewal // likewise
}

// renewParallel bounds the renewals in flight at once for a store that
// cannot batch them.
const renewParallel = 256

// claim is a running claim's place in the renewer's list. It is embedded
// in request, which is allocated anyway.
type claim struct {
	prev, next *claim
	r          *request
	token      uint64
	nextRenew  time.Time
	// leaseUntil is a conservative local estimate of when the store lets
	// the claim go: the time the last successful Begin or Renew was sent,
	// plus the lease. Background completion gives up there.
	leaseUntil time.Time // guarded by renewer.mu
	lost       bool      // guarded by renewer.mu
	listed     bool      // guarded by renewer.mu
}

func (e *Engine) startRenewal(r *request, token uint64) {
	rw := &e.renew
	c := &r.claim
	c.r, c.token = r, token
	// From when Begin was sent, a moment ago: one clock read less, and a
	// first renewal that early is only the safer.
	c.nextRenew = r.begunAt.Add(e.cfg.renewEvery)
	rw.mu.Lock()
	c.leaseUntil = r.begunAt.Add(e.cfg.lease)
	if rw.head.next == nil {
		rw.head.next, rw.head.prev = &rw.head, &rw.head
	}
	c.prev, c.next = rw.head.prev, &rw.head
	rw.head.prev.next = c
	rw.head.prev = c
	c.listed = true
	if !rw.running {
		rw.running = true
		go e.renewLoop()
	}
	rw.mu.Unlock()
}

// stopRenewal takes the claim off the list and reports whether its lease
// was lost while the handler ran, and until when it is held at least.
func (e *Engine) stopRenewal(r *request) (lost bool, leaseUntil time.Time) {
	rw := &e.renew
	c := &r.claim
	rw.mu.Lock()
	if c.listed {
		c.prev.next, c.next.prev = c.next, c.prev
		c.prev, c.next, c.listed = nil, nil, false
	}
	lost, leaseUntil = c.lost, c.leaseUntil
	rw.mu.Unlock()
	return lost, leaseUntil
}

func (e *Engine) renewLoop() {
	rw := &e.renew
	tick := max(e.cfg.renewEvery/2, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for range t.C {
		now := time.Now()
		rw.mu.Lock()
		if rw.head.next == &rw.head {
			rw.running = false
			rw.mu.Unlock()
			return
		}
		due := rw.due[:0]
		for c := rw.head.next; c != &rw.head; c = c.next {
			if !now.Before(c.nextRenew) && !c.lost {
				c.nextRenew = now.Add(e.cfg.renewEvery)
				due = append(due, c)
			}
		}
		rw.due = due
		rw.mu.Unlock()
		if len(due) > 0 {
			e.renewPass(now, due)
		}
		clear(due)
	}
}

// renewPass renews the due claims, sent at now, and settles each result.
// It reads each claim's key and token, which do not change while the
// claim is listed; a claim that completes meanwhile is simply ignored.
func (e *Engine) renewPass(now time.Time, due []*claim) {
	c := &e.cfg
	// A pass may take up to two renewal periods (of the three a lease
	// lasts): a slow store still renews in time, and a pass that fails
	// leaves a period for the retry.
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.renewEvery)
	defer cancel()
	rw := &e.renew
	if br, ok := c.store.(BatchRenewer); ok {
		batch := rw.batch[:0]
		for _, cl := range due {
			batch = append(batch, Renewal{Key: cl.r.storeKey, Token: cl.token})
		}
		br.RenewBatch(ctx, c.lease, batch)
		for i, cl := range due {
			e.settleRenewal(cl, now, batch[i].Err)
		}
		clear(batch)
		rw.batch = batch
		return
	}
	var wg sync.WaitGroup
	next := make(chan *claim)
	for range min(len(due), renewParallel) {
		wg.Go(func() {
			for cl := range next {
				e.settleRenewal(cl, now, c.store.Renew(ctx, cl.r.storeKey, cl.token, c.lease))
			}
		})
	}
	for _, cl := range due {
		next <- cl
	}
	close(next)
	wg.Wait()
}

func (e *Engine) settleRenewal(cl *claim, sent time.Time, err error) {
	rw := &e.renew
	if err == nil {
		rw.mu.Lock()
		cl.leaseUntil = sent.Add(e.cfg.lease)
		rw.mu.Unlock()
		return
	}
	if !errors.Is(err, ErrLeaseLost) {
		// A store error: the claim is due again at once, so the next tick
		// retries it rather than waiting a whole period.
		rw.mu.Lock()
		cl.nextRenew = time.Time{}
		rw.mu.Unlock()
		return
	}
	rw.mu.Lock()
	report := cl.listed // a claim that just completed is not lost
	if report {
		cl.lost = true
	}
	rw.mu.Unlock()
	if report {
		e.emit(cl.r, &Event{Type: EventLockInconsistency, Err: err,
			Detail: "lease lost while the handler ran: another request may run with this key"})
	}
}
