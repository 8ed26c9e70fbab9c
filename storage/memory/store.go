package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

var (
	_ core.Store     = (*Store)(nil)
	_ core.Cooldowns = (*Store)(nil)
)

// ErrFull is returned (wrapped in core.ErrStoreUnavailable) when every
// record is a live claim and none can be evicted.
var ErrFull = errors.New("memory: store full of in-flight claims")

// Store is the in-memory store. The zero value is not usable; call New.
type Store struct {
	cfg      config
	seed     maphash.Seed
	perShard int
	tokens   atomic.Uint64
	shards   [shardCount]shard

	coolMu sync.Mutex
	cool   map[string]time.Time
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*entry
	head entry // sentinel of the list in claim order, oldest first
}

type entry struct {
	key        string
	rec        core.Record
	nonce      uint64 // of the attempt holding the claim
	prev, next *entry
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	c := config{maxEntries: DefaultMaxEntries, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	s := &Store{cfg: c, seed: maphash.MakeSeed(), cool: map[string]time.Time{}}
	s.perShard = (c.maxEntries + shardCount - 1) / shardCount
	for i := range s.shards {
		sh := &s.shards[i]
		sh.m = make(map[string]*entry)
		sh.head.next, sh.head.prev = &sh.head, &sh.head
	}
	return s
}

var (
	defaultOnce  sync.Once
	defaultStore *Store
)

// Default returns the process-wide store that the framework adapters use
// when no store is configured, so that every middleware instance of one
// process shares one view of every key.
func Default() *Store {
	defaultOnce.Do(func() { defaultStore = New() })
	return defaultStore
}

func (s *Store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)%shardCount]
}

// lookup returns the live entry for key, removing it when it has expired.
func (sh *shard) lookup(key string, now time.Time) *entry {
	e := sh.m[key]
	if e != nil && !now.Before(e.rec.ExpiresAt) {
		sh.remove(e)
		return nil
	}
	return e
}

func (sh *shard) remove(e *entry) {
	delete(sh.m, e.key)
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (sh *shard) pushBack(e *entry) {
	e.prev, e.next = sh.head.prev, &sh.head
	sh.head.prev.next = e
	sh.head.prev = e
	sh.m[e.key] = e
}

// makeRoom drops expired records from the old end and, when the shard is
// still full, evicts the oldest record that is not a live claim.
func (sh *shard) makeRoom(limit int, now time.Time) error {
	for e := sh.head.next; e != &sh.head && !now.Before(e.rec.ExpiresAt); e = sh.head.next {
		sh.remove(e)
	}
	if len(sh.m) < limit {
		return nil
	}
	for e := sh.head.next; e != &sh.head; e = e.next {
		if e.rec.State == core.StateCompleted || !now.Before(e.rec.LeaseUntil) {
			sh.remove(e)
			return nil
		}
	}
	return fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ErrFull)
}

// Begin implements core.Store.
func (s *Store) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if err := ctx.Err(); err != nil {
		return core.BeginResult{}, fmt.Errorf("%w: %w", core.ErrStoreUnavailable, err)
	}
	now := s.cfg.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.lookup(key, now); e != nil {
		switch {
		case e.rec.Fingerprint != a.Fingerprint:
			return core.BeginResult{Outcome: core.Mismatch, Record: e.rec}, nil
		case e.rec.State == core.StateCompleted:
			return core.BeginResult{Outcome: core.Replay, Record: e.rec}, nil
		case a.Nonce != 0 && e.nonce == a.Nonce:
			// A resent Begin: the claim is the caller's own.
			return core.BeginResult{Outcome: core.Claimed, Token: e.rec.Token}, nil
		case now.Before(e.rec.LeaseUntil):
			return core.BeginResult{Outcome: core.InFlight, Record: e.rec}, nil
		}
		// The owner's lease expired: take the claim over with a new token.
		e.rec.Token = s.tokens.Add(1)
		e.rec.LeaseUntil = now.Add(a.Lease)
		e.rec.ExpiresAt = now.Add(a.TTL)
		e.nonce = a.Nonce
		return core.BeginResult{Outcome: core.Claimed, Token: e.rec.Token, TookOver: true}, nil
	}
	if err := sh.makeRoom(s.perShard, now); err != nil {
		return core.BeginResult{}, err
	}
	e := &entry{key: key, nonce: a.Nonce, rec: core.Record{
		State:       core.StateInFlight,
		Fingerprint: a.Fingerprint,
		Token:       s.tokens.Add(1),
		LeaseUntil:  now.Add(a.Lease),
		ExpiresAt:   now.Add(a.TTL),
	}}
	sh.pushBack(e)
	return core.BeginResult{Outcome: core.Claimed, Token: e.rec.Token}, nil
}

// owned returns the in-flight entry held with token, or nil.
func (sh *shard) owned(key string, token uint64, now time.Time) *entry {
	e := sh.lookup(key, now)
	if e == nil || e.rec.State != core.StateInFlight || e.rec.Token != token {
		return nil
	}
	return e
}

// Renew implements core.Store.
func (s *Store) Renew(_ context.Context, key string, token uint64, lease time.Duration) error {
	now := s.cfg.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.owned(key, token, now)
	if e == nil {
		return core.ErrLeaseLost
	}
	e.rec.LeaseUntil = now.Add(lease)
	return nil
}

// Complete implements core.Store. The store keeps payload; the caller must
// not modify it afterwards.
func (s *Store) Complete(_ context.Context, key string, token uint64, payload []byte, ttl time.Duration) error {
	now := s.cfg.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.owned(key, token, now)
	if e == nil {
		if c := sh.lookup(key, now); c != nil && c.rec.State == core.StateCompleted && c.rec.Token == token {
			return nil // completed by this very claim: a resent Complete
		}
		return core.ErrLeaseLost
	}
	e.rec.State = core.StateCompleted
	e.rec.Payload = payload
	e.rec.LeaseUntil = time.Time{}
	e.rec.ExpiresAt = now.Add(ttl)
	return nil
}

// Release implements core.Store.
func (s *Store) Release(_ context.Context, key string, token uint64) error {
	now := s.cfg.now()
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, now)
	if e == nil {
		return nil // already released, or expired: nothing is held
	}
	if e.rec.State != core.StateInFlight || e.rec.Token != token {
		return core.ErrLeaseLost
	}
	sh.remove(e)
	return nil
}

// Get implements core.Store.
func (s *Store) Get(_ context.Context, key string) (core.Record, error) {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.lookup(key, s.cfg.now())
	if e == nil {
		return core.Record{}, core.ErrNotFound
	}
	return e.rec, nil
}

// Delete implements core.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e := sh.m[key]; e != nil {
		sh.remove(e)
	}
	return nil
}

// Len returns the number of records, live or not yet swept.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// AcquireCooldown implements core.Cooldowns for this process.
func (s *Store) AcquireCooldown(_ context.Context, name string, ttl time.Duration) (bool, error) {
	now := s.cfg.now()
	s.coolMu.Lock()
	defer s.coolMu.Unlock()
	if now.Before(s.cool[name]) {
		return false, nil
	}
	if len(s.cool) > 10_000 {
		for k, t := range s.cool {
			if !now.Before(t) {
				delete(s.cool, k)
			}
		}
	}
	s.cool[name] = now.Add(ttl)
	return true, nil
}
