package memory

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/idemkit/idempotency/core"
)

// errTooLarge is the refusal of a payload that no eviction can make room
// for (see ErrTooLarge).
var errTooLarge = fmt.Errorf("%w: %w", core.ErrPayloadTooLarge, ErrTooLarge)

// Commit implements core.Store. A committed claim is kept until its
// expiry, never reclaimed nor evicted when its lease ends (see deadline).
// A copy of sig, at most 255 bytes, is kept after the claim's signature
// and accounted as part of the record; making room for it may evict
// final records, and without room Commit fails (core.ErrStoreUnavailable
// wrapping ErrFull).
func (s *Store) Commit(_ context.Context, key string, token uint64, sig []byte) error {
	if len(sig) > math.MaxUint8 {
		return fmt.Errorf("memory: commit signature of %d bytes, at most %d", len(sig), math.MaxUint8)
	}
	now := s.now()
	home := s.shardOf(key)
	sh := &s.shards[home]
	var held int64 // bytes reserved through makeRoom, with sh unlocked
	sh.mu.Lock()
	for {
		e := s.owned(sh, key, token, now)
		if e == nil || e.committed {
			sh.mu.Unlock()
			s.giveBack(held)
			if e == nil {
				return core.ErrLeaseLost
			}
			return nil // a resent Commit: the same sig is kept already
		}
		payload, need := e.payload, int64(0)
		if len(sig) > 0 {
			payload = make([]byte, len(e.payload)+len(sig))
			copy(payload[copy(payload, e.payload):], sig)
			need = allocSize(cap(payload)) - allocSize(cap(e.payload))
		}
		if need > held {
			if !s.take(sh, e, need-held, now) {
				sh.mu.Unlock()
				if _, err := s.makeRoom(home, 0, need-held, now, nil); err != nil {
					s.giveBack(held)
					return err
				}
				held = need
				sh.mu.Lock() // the claim may have changed meanwhile: look again
				continue
			}
			held = need
		}
		e.payload, e.csig = payload, uint8(len(sig))
		e.size += need
		e.committed = true
		sh.live.fix(e)
		sh.mu.Unlock()
		s.giveBack(held - need)
		return nil
	}
}

// Complete implements core.Store. The store keeps payload; the caller must
// not modify it afterwards. The record is accounted with cap(payload)
// bytes; making room for them may evict other final records (counted in
// Stats, not reported to the caller).
//
// A completed response larger than the byte bound is refused with an
// error wrapping core.ErrPayloadTooLarge and ErrTooLarge; the claim is
// kept. The reason of a tombstone or an uncertain record is best effort:
// when it does not fit, the record is written without it, since the claim
// already holds the room the record needs and a final state must never be
// lost for the sake of a message to operators.
func (s *Store) Complete(_ context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if !state.Final() {
		return fmt.Errorf("memory: Complete with state %v, want a final state", state)
	}
	now := s.now()
	home := s.shardOf(key)
	sh := &s.shards[home]
	extra := allocSize(cap(payload))
	var held int64 // bytes reserved through makeRoom, with sh unlocked
	sh.mu.Lock()
	for {
		e := s.lookup(sh, key, now)
		write, err := completes(e, token, state)
		if !write {
			sh.mu.Unlock()
			s.giveBack(held)
			return err
		}
		if entrySize(key)+extra > s.cfg.maxBytes {
			if state == core.StateCompleted {
				sh.mu.Unlock()
				s.giveBack(held)
				s.refused.Add(1)
				return errTooLarge
			}
			payload, extra = nil, 0
		}
		need := entrySize(key) + extra - e.size
		if need > held {
			if !s.take(sh, e, need-held, now) {
				sh.mu.Unlock()
				if _, err := s.makeRoom(evictFrom(home, e), 0, need-held, now, e); err == nil {
					held = need
				} else if state == core.StateCompleted {
					s.giveBack(held)
					return err
				} else {
					payload, extra = nil, 0 // see the method's comment
				}
				sh.mu.Lock() // the record may have changed meanwhile: look again
				continue
			}
			held = need
		}
		s.settle(sh, e, state, payload, ttl, now)
		sh.mu.Unlock()
		s.giveBack(held - need)
		s.ended(key)
		return nil
	}
}

// completes reports whether Complete with token and state writes over e;
// when not, err is its answer.
func completes(e *entry, token uint64, state core.State) (write bool, err error) {
	switch {
	case e == nil || e.token != token:
		return false, core.ErrLeaseLost
	case e.state == core.StateInFlight:
		return true, nil
	case e.stranded && state != core.StateUncertain:
		// Begin gave up on this very claim when its lease ran out, but its
		// only run has finished after all: its answer is better than
		// uncertainty.
		return true, nil
	default:
		return false, nil // the final record this token wrote: a resend
	}
}

// Resolve implements core.Store. A stored payload gets a token of its
// own, so that a late Complete of the claim it replaces is fenced.
func (s *Store) Resolve(_ context.Context, key string, payload []byte, ttl time.Duration) error {
	now := s.now()
	home := s.shardOf(key)
	sh := &s.shards[home]
	extra := allocSize(cap(payload))
	if payload != nil && entrySize(key)+extra > s.cfg.maxBytes {
		s.refused.Add(1)
		return errTooLarge
	}
	var held int64
	sh.mu.Lock()
	for {
		e := s.lookup(sh, key, now)
		err := core.ErrNotFound
		if e != nil {
			err = resolvable(e, now)
		}
		if err != nil {
			sh.mu.Unlock()
			s.giveBack(held)
			return err
		}
		if payload == nil {
			s.remove(sh, e)
			sh.mu.Unlock()
			s.giveBack(held)
			s.ended(key)
			return nil
		}
		need := entrySize(key) + extra - e.size // below 0 when a longer reason goes
		if need > held {
			if !s.take(sh, e, need-held, now) {
				sh.mu.Unlock()
				if _, err := s.makeRoom(evictFrom(home, e), 0, need-held, now, e); err != nil {
					s.giveBack(held)
					return err
				}
				held = need
				sh.mu.Lock()
				continue
			}
			held = need
		}
		s.settle(sh, e, core.StateCompleted, payload, ttl, now)
		e.token = s.tokens.Add(1)
		sh.mu.Unlock()
		s.giveBack(held - need)
		s.ended(key)
		return nil
	}
}

// resolvable returns nil when an operator may settle e, or
// core.ErrNotResolvable: a live or uncommitted claim still has an owner
// (or a taker), and a completed record needs nothing.
func resolvable(e *entry, now int64) error {
	switch {
	case e.state == core.StateUncertain, e.state == core.StateTombstone:
		return nil
	case e.state == core.StateInFlight && e.committed && now >= e.lease:
		return nil
	default:
		return core.ErrNotResolvable
	}
}

// take reserves n more bytes for e's record, with its shard sh locked, or
// reports false when the caller must unlock sh and call makeRoom.
func (s *Store) take(sh *shard, e *entry, n, now int64) bool {
	if e.state == core.StateInFlight {
		ok, _ := s.room(sh, 0, n, now)
		return ok
	}
	// A final e is in sh's done lists, where room could evict e itself.
	return s.reserve(0, n)
}

// evictFrom is the shard where makeRoom starts evicting for a new payload
// of e, in shard home. A final e is itself a candidate, likely the first
// of its shard (a stranded record keeps its claim's expiry): evicting it
// would lose the very answer that makes room, and free its key for a
// re-run. From the next shard, home is visited last.
func evictFrom(home int, e *entry) int {
	if e.state.Final() {
		return (home + 1) % shardCount
	}
	return home
}

// settle writes the final record state over e, kept for ttl. Its room is
// already reserved.
func (s *Store) settle(sh *shard, e *entry, state core.State, payload []byte, ttl time.Duration, now int64) {
	if e.state.Final() {
		sh.done.remove(e)
	} else {
		sh.live.remove(e)
	}
	e.state = state
	e.payload, e.csig = payload, 0
	e.size = entrySize(e.key) + allocSize(cap(payload))
	e.lease = 0
	e.committed, e.stranded = false, false
	e.exp = after(now, ttl)
	e.ttl = int64(ttl)
	sh.done.push(e, e.ttl)
	s.noted(e.exp)
}

// giveBack returns n reserved bytes that a record did not need.
func (s *Store) giveBack(n int64) {
	if n != 0 {
		s.bytes.Add(-n)
	}
}
