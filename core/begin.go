package core

import (
	"math/rand/v2"
	"time"
)

// beginWait claims the key or, while another request holds it with the
// same fingerprint, waits for up to the lock wait for the claim to end
// and then Begins again (replay, or a claim of its own).
//
// Waiting is woken, not polled: the requests of this process that wait on
// one key share a flight (flight.go), which ends when this process ends
// the claim (claimEnded), when the store reports that it ended (a
// Notifier, watched once per flight), or when the flight's leader finds
// it ended. The leader is the one waiter that Begins for the others: once
// right after the watch starts (a claim that ended before it is not
// missed), when the claim's lease runs out (its owner may have died: the
// Begin takes it over), and, for a store that is no Notifier, at
// exponentially growing intervals. Every waiter Begins once more at the
// end of its lock wait. So a duplicate costs at most three store calls
// (Begin, the leader's one Begin after watching, the Begin after the
// wake-up) however long it waits, while the lease outlasts the lock wait
// (the default); each lease that runs out meanwhile adds one Begin to the
// leader's.
func (e *Engine) beginWait(r *request, fp Fingerprint) (BeginResult, error) {
	c := &e.cfg
	a := Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: c.lease, TTL: e.claimTTL}
	r.fpv = fp
	if e.ring != nil {
		a.Sig = e.ring.claimSig(r.storeKey, &r.fpv)
	}
	sh, h := e.flights.shard(r.storeKey)
	g := sh.gen.Load()
	res, err := e.begin(r, a)
	if err != nil || res.Outcome != OutcomeConflict || c.lockWait <= 0 {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(c.lockWait)
	defer func() { r.m.LockWait = time.Since(start) }()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	poll := 10 * time.Millisecond // a leader's polling, for a store that is no Notifier
	for {
		f, lead := sh.join(r.storeKey, h, g)
		if f != nil {
			var again bool
			res, err, again = e.await(r, a, sh, f, lead, res, deadline, &timer, &poll)
			if !again {
				return res, err
			}
		}
		// The claim may have ended: Begin again.
		g = sh.gen.Load()
		if res, err = e.begin(r, a); err != nil || res.Outcome != OutcomeConflict || !time.Now().Before(deadline) {
			return res, err
		}
	}
}

// await waits in flight f until it ends (again: the caller Begins once
// more), the lock wait ends (one last Begin, whose result it returns),
// the client leaves (the conflict it will not read), or, as the leader,
// one of its Begins finds the claim ended (that result; the flight is
// ended for the others). res is the waiter's last Begin result.
func (e *Engine) await(r *request, a Attempt, sh *flightShard, f *flight, lead bool, res BeginResult, deadline time.Time, timer **time.Timer, poll *time.Duration) (_ BeginResult, _ error, again bool) {
	recheck := false
	if lead {
		if n, ok := e.cfg.store.(Notifier); ok {
			if _, watching := sh.state(f); !watching {
				ctx, cancel := e.storeContext(r.ctx)
				stop, werr := n.Watch(ctx, r.storeKey, func() { sh.wake(f) })
				cancel()
				if werr != nil {
					stop = nil
				}
				// Begin once more: the claim may have ended before the
				// watch started. Without a watch this is the first poll.
				if !sh.watched(f, stop) {
					sh.leave(f, lead)
					return res, nil, true
				}
				recheck = true
			}
		}
	}
	for {
		orphan, watching := sh.state(f)
		now := time.Now()
		next := deadline
		if lead {
			switch {
			case recheck:
				next = now
			case !watching:
				next = minTime(next, now.Add(jitter(*poll)))
			}
			if lu := res.Record.LeaseUntil; !lu.IsZero() {
				next = minTime(next, lu.Add(time.Millisecond))
			}
		}
		d := next.Sub(now)
		if *timer == nil {
			*timer = time.NewTimer(max(d, 0))
		} else {
			(*timer).Reset(max(d, 0))
		}
		select {
		case <-f.done:
			sh.leave(f, lead)
			return res, nil, true
		case <-orphan:
			lead = sh.promote(f)
			continue
		case <-r.ctx.Done():
			sh.leave(f, lead)
			return res, nil, false // the client left; it gets the conflict it will not read
		case <-(*timer).C:
		}
		if !time.Now().Before(deadline) {
			sh.leave(f, lead)
			res, err := e.begin(r, a)
			return res, err, false
		}
		if !lead {
			continue
		}
		// The leader's Begin: after the watch started, at the lease's
		// end, or a poll.
		recheck = false
		nres, err := e.begin(r, a)
		if err != nil || nres.Outcome != OutcomeConflict {
			sh.wake(f)
			sh.leave(f, lead)
			return nres, err, false
		}
		if lu := nres.Record.LeaseUntil; !lu.After(time.Now()) {
			// Clocks disagree (the store's says the lease holds): do not
			// Begin again for it; the lock wait's end still does.
			nres.Record.LeaseUntil = time.Time{}
		}
		res = nres
		if !watching {
			*poll = min(*poll*2, time.Second)
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
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
