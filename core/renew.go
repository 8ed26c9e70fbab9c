package core

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// renewal keeps a claim's lease alive while its handler runs. It uses a
// timer rather than a goroutine: most handlers finish long before the
// first renewal is due, and then the cost is one stopped timer.
type renewal struct {
	e     *Engine
	r     *request
	token uint64
	lost  atomic.Bool

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

func (e *Engine) startRenewal(r *request, token uint64) *renewal {
	rn := &renewal{e: e, r: r, token: token}
	rn.mu.Lock() // fire reads rn.timer under mu
	rn.timer = time.AfterFunc(e.cfg.renewEvery, rn.fire)
	rn.mu.Unlock()
	return rn
}

func (rn *renewal) fire() {
	rn.mu.Lock()
	if rn.stopped {
		rn.mu.Unlock()
		return
	}
	rn.mu.Unlock()
	c := &rn.e.cfg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(rn.r.ctx), c.renewEvery)
	err := c.store.Renew(ctx, rn.r.storeKey, rn.token, c.lease)
	cancel()
	if errors.Is(err, ErrLeaseLost) {
		rn.lost.Store(true)
		rn.e.emit(rn.r, &Event{Type: EventLockInconsistency, Err: err,
			Detail: "lease lost while the handler ran: another request may run with this key"})
		return
	}
	// On success, and on a store error (the next attempt may work), renew
	// again one interval later.
	rn.mu.Lock()
	if !rn.stopped {
		rn.timer.Reset(c.renewEvery)
	}
	rn.mu.Unlock()
}

func (rn *renewal) stop() {
	rn.mu.Lock()
	rn.stopped = true
	rn.timer.Stop()
	rn.mu.Unlock()
}
