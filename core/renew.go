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
type renewer struct {
	mu      sync.Mutex
	head    claim // sentinel of the list of running claims
	running bool
	due     []*request // scratch for the loop, reused between ticks
}

// claim is a running claim's place in the renewer's list. It is embedded
// in request, which is allocated anyway.
type claim struct {
	prev, next *claim
	r          *request
	token      uint64
	nextRenew  time.Time
	lost       bool // guarded by renewer.mu
	listed     bool // guarded by renewer.mu
}

func (e *Engine) startRenewal(r *request, token uint64) {
	rw := &e.renew
	c := &r.claim
	c.r, c.token = r, token
	c.nextRenew = time.Now().Add(e.cfg.renewEvery)
	rw.mu.Lock()
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
// was lost while the handler ran.
func (e *Engine) stopRenewal(r *request) (lost bool) {
	rw := &e.renew
	c := &r.claim
	rw.mu.Lock()
	if c.listed {
		c.prev.next, c.next.prev = c.next, c.prev
		c.prev, c.next, c.listed = nil, nil, false
	}
	lost = c.lost
	rw.mu.Unlock()
	return lost
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
				due = append(due, c.r)
			}
		}
		rw.due = due
		rw.mu.Unlock()
		for _, r := range due {
			e.renewOne(r)
		}
		clear(due)
	}
}

func (e *Engine) renewOne(r *request) {
	c := &e.cfg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.ctx), c.renewEvery)
	err := c.store.Renew(ctx, r.storeKey, r.claim.token, c.lease)
	cancel()
	if !errors.Is(err, ErrLeaseLost) {
		return // renewed, or a store error: the next tick tries again
	}
	rw := &e.renew
	rw.mu.Lock()
	report := r.claim.listed // a claim that just completed is not lost
	if report {
		r.claim.lost = true
	}
	rw.mu.Unlock()
	if report {
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err,
			Detail: "lease lost while the handler ran: another request may run with this key"})
	}
}
