package memory

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

var (
	_ core.Store        = (*Store)(nil)
	_ core.Cooldowns    = (*Store)(nil)
	_ core.NonBlocking  = (*Store)(nil)
	_ core.BatchRenewer = (*Store)(nil)
)

// ErrFull is returned (wrapped in core.ErrStoreUnavailable) when the store
// is at its bound and every record is a live or committed claim, so none
// can be evicted.
var ErrFull = errors.New("memory: store full of in-flight claims")

// ErrTooLarge is returned for a record that alone exceeds the byte bound
// (WithMaxBytes), so that no eviction can ever make room for it.
//
// Complete and Resolve wrap it in core.ErrPayloadTooLarge, and not in
// core.ErrStoreUnavailable: the store is up, and resending the same
// response can only fail again, so the Engine writes a tombstone instead
// (which always fits, see Complete). Begin, refusing a key that alone is
// too large, has no claim to leave a tombstone on: it wraps ErrTooLarge in
// core.ErrStoreUnavailable, so that the request fails closed (or open).
var ErrTooLarge = errors.New("memory: record larger than the store's byte bound")

// strandedReason is the payload of an uncertain record that Begin made of
// a committed claim whose lease expired.
const strandedReason = "owner lost its lease after declaring effects"

// Store is the in-memory store. The zero value is not usable; call New.
//
// Records live in 64 shards, each a map, a min-heap of in-flight claims
// ordered by the earlier of their lease end and expiry (by expiry alone
// for a committed claim), and lists of final records (completed,
// tombstone, uncertain) in order of expiry (one per TTL). The bounds are
// global (atomic counters), so the store refuses a claim only when the
// whole store is full of live claims, however the keys fall into shards.
type Store struct {
	cfg   config
	seed  maphash.Seed
	epoch time.Time // times are kept as nanoseconds since epoch
	_     [64]byte

	// Written by every claim and removal.
	entries atomic.Int64
	bytes   atomic.Int64
	tokens  atomic.Uint64
	refused atomic.Uint64
	_       [64]byte

	// hint is at most the deadline of every record: nothing is expired
	// (or an abandoned claim) before it. Lowered by whoever sets an earlier
	// deadline, raised only by sweep. sweepLow collects the deadlines set
	// while a sweep runs (see sweep).
	hint     atomic.Int64
	sweepLow atomic.Int64
	sweepMu  sync.Mutex
	_        [64]byte

	shards [shardCount]shard

	coolMu sync.Mutex
	cool   map[string]time.Time

	watch watchers // Notifier watches (notify.go)
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*entry
	live heap   // in-flight claims by deadline
	done queues // final records by exp

	// Counters for Stats, under mu.
	evicted, evictedClaims, expired uint64
	_                               [64]byte
}

// entry is one record: 144 bytes, the 144-byte size class. Its key is
// the map's key too (one string, not two copies).
type entry struct {
	key string
	// payload is the final record's payload; on an in-flight claim and on
	// a stranded record, whose payloads are not stored, it holds the
	// claim's signature (Attempt.Sig) instead, followed by the last csig
	// bytes of the commitment's signature (Commit), so that signing costs
	// an entry no field of its own (see record).
	payload []byte
	fp      core.Fingerprint
	token   uint64
	// nonce is that of the attempt holding the claim; on a stranded
	// record, that of the attempt that stranded it, so that its resent
	// Begin reports it too.
	nonce      uint64
	lease      int64  // lease end, ns since epoch (in flight only)
	exp        int64  // expiry, ns since epoch
	ttl        int64  // of the last write: picks a done list for a stranded claim
	size       int64  // accounted bytes
	prev, next *entry // neighbours in a done list (final records only)
	idx        int32  // position in the live heap, or done list number
	state      core.State
	committed  bool  // an in-flight claim whose handler declared effects
	csig       uint8 // length of the commitment's signature ending payload
	// stranded marks an uncertain record that Begin made of a committed
	// claim whose lease expired; its owner may still complete it.
	stranded bool
}

// deadline is the entry's key in its heap: when it can be dropped without
// losing anything a live request relies on. A committed claim keeps its
// key until it expires even when its lease ends: its handler may have had
// effects, and a free key would let a retry run them again.
func (e *entry) deadline() int64 {
	if e.state == core.StateInFlight && !e.committed && e.lease < e.exp {
		return e.lease
	}
	return e.exp
}

// New returns an empty Store.
func New(opts ...Option) *Store {
	c := config{maxEntries: DefaultMaxEntries, maxBytes: DefaultMaxBytes, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	s := &Store{cfg: c, seed: maphash.MakeSeed(), epoch: c.now(), cool: map[string]time.Time{}}
	s.hint.Store(math.MaxInt64)
	s.sweepLow.Store(math.MaxInt64)
	for i := range s.shards {
		s.shards[i].m = make(map[string]*entry)
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

// NonBlocking implements core.NonBlocking: no call waits on I/O.
func (s *Store) NonBlocking() {}

func (s *Store) shardOf(key string) int {
	return int(maphash.String(s.seed, key) % shardCount)
}

func (s *Store) now() int64 { return int64(s.cfg.now().Sub(s.epoch)) }

func (s *Store) time(ns int64) time.Time { return s.epoch.Add(time.Duration(ns)) }

// after returns now + d, saturating instead of overflowing.
func after(now int64, d time.Duration) int64 {
	if d > 0 && now > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return now + int64(d)
}

// entrySize is what a record is accounted: EntryOverhead, its key and its
// payload's capacity (what the store keeps alive).
func entrySize(key string) int64 { return EntryOverhead + allocSize(len(key)) }

// claimSize is what a claim on key signed with sig (the store's copy) is
// accounted: the signature is kept in the payload's place.
func claimSize(key string, sig []byte) int64 { return entrySize(key) + allocSize(cap(sig)) }

// ownSig returns the store's copy of an attempt's signature, nil for none:
// the caller's slice may be reused once Begin returns.
func ownSig(sig []byte) []byte {
	if len(sig) == 0 {
		return nil
	}
	c := make([]byte, len(sig))
	copy(c, sig)
	return c
}

// allocSize is n rounded up as Go allocates it, for objects over 32 KiB
// (whole 8 KiB pages). Smaller objects are rounded to a size class,
// at most 12.5% more, which is not counted.
func allocSize(n int) int64 {
	if n > 32<<10 {
		return int64(n+8<<10-1) &^ (8<<10 - 1)
	}
	return int64(n)
}

func (s *Store) record(e *entry) core.Record {
	r := core.Record{State: e.state, Fingerprint: e.fp, Token: e.token, ExpiresAt: s.time(e.exp), Payload: e.payload}
	switch {
	case e.state == core.StateInFlight:
		r.LeaseUntil = s.time(e.lease)
		r.Committed = e.committed
		r.Payload = nil
		r.Sig, r.CommitSig = e.sigs()
	case e.stranded:
		// Not stored: stranding then needs no room, so it cannot fail.
		r.Payload = []byte(strandedReason)
		r.Sig, r.CommitSig = e.sigs()
	}
	return r
}

// sigs splits the payload of a claim or a stranded record into the
// claim's signature and the commitment's, nil for either absent.
func (e *entry) sigs() (claim, commit []byte) {
	n := len(e.payload) - int(e.csig)
	if n > 0 {
		claim = e.payload[:n:n]
	}
	if e.csig > 0 {
		commit = e.payload[n:]
	}
	return claim, commit
}

// noted publishes a deadline just set on an entry (under its shard's
// lock), keeping hint at most every deadline. sweepLow is lowered first:
// sweep relies on that order.
func (s *Store) noted(d int64) {
	lowerTo(&s.sweepLow, d)
	lowerTo(&s.hint, d)
}

func lowerTo(v *atomic.Int64, d int64) {
	for {
		cur := v.Load()
		if d >= cur || v.CompareAndSwap(cur, d) {
			return
		}
	}
}

// reserve takes room for n more entries and size more bytes, or reports
// false and takes nothing. The counters never exceed the bounds.
func (s *Store) reserve(n, size int64) bool {
	if n > 0 {
		for {
			c := s.entries.Load()
			if c+n > s.cfg.maxEntries {
				return false
			}
			if s.entries.CompareAndSwap(c, c+n) {
				break
			}
		}
	}
	if size == 0 {
		return true
	}
	for {
		b := s.bytes.Load()
		if b+size > s.cfg.maxBytes {
			if n > 0 {
				s.entries.Add(-n)
			}
			return false
		}
		if s.bytes.CompareAndSwap(b, b+size) {
			return true
		}
	}
}

func (s *Store) unreserve(n, size int64) {
	s.entries.Add(-n)
	s.bytes.Add(-size)
}

// remove forgets e and gives its room back.
func (s *Store) remove(sh *shard, e *entry) {
	delete(sh.m, e.key)
	if e.state.Final() {
		sh.done.remove(e)
	} else {
		sh.live.remove(e)
	}
	s.unreserve(1, e.size)
}

// lookup returns the live entry for key, removing it when it has expired.
func (s *Store) lookup(sh *shard, key string, now int64) *entry {
	e := sh.m[key]
	if e != nil && now >= e.exp {
		s.remove(sh, e)
		sh.expired++
		return nil
	}
	return e
}

// reclaimDone drops the shard's expired final records.
func (s *Store) reclaimDone(sh *shard, now int64) {
	for e := sh.done.first(); e != nil && e.exp <= now; e = sh.done.first() {
		s.remove(sh, e)
		sh.expired++
	}
}

// reclaim drops every record of the shard that has expired and every
// uncommitted claim whose lease has expired.
func (s *Store) reclaim(sh *shard, now int64) {
	s.reclaimDone(sh, now)
	for len(sh.live) > 0 && sh.live[0].at <= now {
		e := sh.live.top()
		if e.exp <= now {
			sh.expired++
		} else {
			sh.evictedClaims++
		}
		s.remove(sh, e)
	}
}

// evictDone evicts the shard's final record closest to its expiry.
func (s *Store) evictDone(sh *shard, now int64) (live bool) {
	e := sh.done.first()
	s.remove(sh, e)
	if e.exp <= now {
		sh.expired++
		return false
	}
	sh.evicted++
	return true
}

// room reserves n entries and size bytes for a record of sh, with sh
// locked. It reclaims the shard's expired records and, when nothing is
// expired anywhere (hint), evicts the shard's final records. It
// reports false when the caller must unlock and call makeRoom.
func (s *Store) room(sh *shard, n, size, now int64) (ok bool, evicted int) {
	s.reclaimDone(sh, now)
	for !s.reserve(n, size) {
		if now >= s.hint.Load() || sh.done.n == 0 {
			return false, evicted
		}
		if s.evictDone(sh, now) {
			evicted++
		}
	}
	return true, evicted
}

// makeRoom reserves n entries and size bytes, with no shard locked: it
// sweeps every expired record and abandoned claim out of the store, then
// evicts final records, from shard home first, then from the others, but
// never keep (the record the room is for: evicting it would free its key).
func (s *Store) makeRoom(home int, n, size, now int64, keep *entry) (evicted int, err error) {
	if n > s.cfg.maxEntries || size > s.cfg.maxBytes {
		s.refused.Add(1)
		return 0, fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ErrTooLarge)
	}
	swept := false
	for !s.reserve(n, size) {
		if !swept && now >= s.hint.Load() {
			s.sweep(now)
			swept = true
			continue
		}
		found, live := s.evictAny(home, now, keep)
		if !found {
			if s.reserve(n, size) { // room freed meanwhile
				break
			}
			s.refused.Add(1)
			return evicted, fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ErrFull)
		}
		if live {
			evicted++
		}
	}
	return evicted, nil
}

// evictAny evicts one final record, from shard home if it has one,
// else from the next shard that has. A shard whose next record to evict
// is keep is passed over.
func (s *Store) evictAny(home int, now int64, keep *entry) (found, live bool) {
	for i := 0; i < shardCount; i++ {
		sh := &s.shards[(home+i)%shardCount]
		sh.mu.Lock()
		if sh.done.n > 0 && sh.done.first() != keep {
			live = s.evictDone(sh, now)
			sh.mu.Unlock()
			return true, live
		}
		sh.mu.Unlock()
	}
	return false, false
}

// sweep reclaims every expired record and abandoned claim of every shard,
// one shard at a time, and raises hint to the earliest deadline left.
//
// A deadline set in a shard after it was swept is not in that minimum;
// its setter lowered sweepLow (reset when the sweep began) before reading
// hint, so it is either in the sweepLow read before the raise, or its
// setter read hint before the raise (and the second sweepLow read below
// catches it), or after (and lowers the raised hint itself).
func (s *Store) sweep(now int64) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	h0 := s.hint.Load()
	if now < h0 {
		return // swept by another caller meanwhile
	}
	s.sweepLow.Store(math.MaxInt64)
	low := int64(math.MaxInt64)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		s.reclaim(sh, now)
		if len(sh.live) > 0 {
			low = min(low, sh.live[0].at)
		}
		if e := sh.done.first(); e != nil {
			low = min(low, e.exp)
		}
		sh.mu.Unlock()
	}
	if s.hint.CompareAndSwap(h0, min(low, s.sweepLow.Load())) {
		lowerTo(&s.hint, s.sweepLow.Load())
	}
}

// Begin implements core.Store. A claim that needs room evicts final
// records (see WithMaxBytes) and reports how many in BeginResult.Evicted.
// A claim keeps a copy of a.Sig, accounted as part of its record.
func (s *Store) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if err := ctx.Err(); err != nil {
		return core.BeginResult{}, fmt.Errorf("%w: %w", core.ErrStoreUnavailable, err)
	}
	now := s.now()
	home := s.shardOf(key)
	sh := &s.shards[home]
	sig := ownSig(a.Sig)
	size := claimSize(key, sig)
	reserved := false
	var held int64 // bytes reserved for a takeover's larger signature
	evicted := 0
	sh.mu.Lock()
	for {
		if e := s.lookup(sh, key, now); e != nil {
			if reserved {
				s.unreserve(1, size)
				reserved = false
			}
			grow := int64(0)
			if s.takesOver(e, a, now) {
				grow = size - e.size
			}
			if grow > held {
				ok, n := s.room(sh, 0, grow-held, now)
				evicted += n
				if !ok {
					sh.mu.Unlock()
					n, err := s.makeRoom(home, 0, grow-held, now, nil)
					evicted += n
					if err != nil {
						s.giveBack(held)
						return core.BeginResult{Evicted: evicted}, err
					}
					held = grow
					sh.mu.Lock() // the claim may have changed meanwhile: look again
					continue
				}
				held = grow
			}
			res := s.existing(sh, e, a, sig, now)
			sh.mu.Unlock()
			if res.TookOver {
				s.giveBack(held - grow) // below 0 for a smaller signature
			} else {
				s.giveBack(held)
			}
			res.Evicted = evicted
			return res, nil
		}
		if reserved {
			break
		}
		ok, n := s.room(sh, 1, size, now)
		evicted += n
		if ok {
			break
		}
		sh.mu.Unlock()
		n, err := s.makeRoom(home, 1, size, now, nil)
		evicted += n
		if err != nil {
			s.giveBack(held)
			return core.BeginResult{Evicted: evicted}, err
		}
		reserved = true
		sh.mu.Lock() // the key may have been claimed meanwhile: look again
	}
	s.giveBack(held) // the claim went meanwhile: a new one is made
	e := &entry{
		key:     key,
		payload: sig,
		fp:      a.Fingerprint,
		token:   s.tokens.Add(1),
		nonce:   a.Nonce,
		lease:   after(now, a.Lease),
		exp:     after(now, a.TTL),
		ttl:     int64(a.TTL),
		size:    size,
		state:   core.StateInFlight,
	}
	sh.m[key] = e
	sh.live.push(e)
	s.noted(e.deadline())
	// e is shared once unlocked: a takeover after its lease may rewrite
	// e.token, so the token is read under the lock.
	token := e.token
	sh.mu.Unlock()
	return core.BeginResult{Outcome: core.OutcomeOriginal, Token: token, Evicted: evicted}, nil
}

// takesOver reports whether Begin with a takes the live record e over:
// an uncommitted claim of the same fingerprint whose lease expired, held
// by another attempt. It is the takeover branch of existing, which Begin
// asks first to make room for a larger signature.
func (s *Store) takesOver(e *entry, a core.Attempt, now int64) bool {
	return e.state == core.StateInFlight && !e.committed && e.fp == a.Fingerprint &&
		now >= e.lease && !(a.Nonce != 0 && e.nonce == a.Nonce)
}

// existing answers Begin for a key that has a live record.
func (s *Store) existing(sh *shard, e *entry, a core.Attempt, sig []byte, now int64) core.BeginResult {
	resent := a.Nonce != 0 && e.nonce == a.Nonce
	stranded := false
	switch {
	case e.state == core.StateInFlight && e.committed && now >= e.lease && !resent:
		s.strand(sh, e, a.Nonce)
		stranded = true
	case e.stranded && resent:
		stranded = true // the stranding Begin, resent: its lost reply said so
	}
	var res core.BeginResult
	switch {
	case e.fp != a.Fingerprint:
		res = core.BeginResult{Outcome: core.OutcomeMismatch, Record: s.record(e)}
	case e.state == core.StateCompleted:
		res = core.BeginResult{Outcome: core.OutcomeRepeated, Record: s.record(e)}
	case e.state == core.StateTombstone:
		res = core.BeginResult{Outcome: core.OutcomeUnavailable, Record: s.record(e)}
	case e.state == core.StateUncertain:
		res = core.BeginResult{Outcome: core.OutcomeUncertain, Record: s.record(e)}
	case resent:
		// A resent Begin: the claim is the caller's own.
		return core.BeginResult{Outcome: core.OutcomeOriginal, Token: e.token}
	case now < e.lease:
		return core.BeginResult{Outcome: core.OutcomeConflict, Record: s.record(e)}
	default:
		return s.takeOver(sh, e, a, sig, now)
	}
	res.Stranded = stranded
	return res
}

// takeOver gives the uncommitted claim e, whose owner's lease expired, to
// attempt a with a new token and a's signature sig. Room for a larger
// signature is reserved by the caller; a smaller one gives room back.
func (s *Store) takeOver(sh *shard, e *entry, a core.Attempt, sig []byte, now int64) core.BeginResult {
	e.payload, e.csig = sig, 0
	e.size = claimSize(e.key, sig)
	e.token = s.tokens.Add(1)
	e.lease = after(now, a.Lease)
	e.exp = after(now, a.TTL)
	e.ttl = int64(a.TTL)
	e.nonce = a.Nonce
	sh.live.fix(e)
	s.noted(e.deadline())
	return core.BeginResult{Outcome: core.OutcomeOriginal, Token: e.token, TookOver: true}
}

// strand turns the committed claim e, whose lease expired, into an
// uncertain record with the same token, fingerprint and expiry: its owner
// may have had effects before it died, so no retry may run them again,
// and the key waits for an operator (Resolve), its owner's late Complete,
// or its expiry. It takes no room: the reason is not stored (see record),
// and as a final record e becomes evictable under pressure, like any
// other.
func (s *Store) strand(sh *shard, e *entry, nonce uint64) {
	sh.live.remove(e)
	e.state = core.StateUncertain
	e.stranded = true
	e.committed = false
	e.lease = 0
	e.nonce = nonce
	// Its deadline stays e.exp, which hint already allows for. The push
	// walks back past the records its TTL's list gained since the claim
	// began: rare enough not to matter.
	sh.done.push(e, e.ttl)
}

// owned returns the in-flight entry held with token, or nil.
func (s *Store) owned(sh *shard, key string, token uint64, now int64) *entry {
	e := s.lookup(sh, key, now)
	if e == nil || e.state != core.StateInFlight || e.token != token {
		return nil
	}
	return e
}

// Renew implements core.Store.
func (s *Store) Renew(_ context.Context, key string, token uint64, lease time.Duration) error {
	now := s.now()
	sh := &s.shards[s.shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return s.renew(sh, key, token, after(now, lease), now)
}

func (s *Store) renew(sh *shard, key string, token uint64, until, now int64) error {
	e := s.owned(sh, key, token, now)
	if e == nil {
		return core.ErrLeaseLost
	}
	e.lease = until
	// A renewed claim outlives its TTL as long as it is renewed (a long
	// handler keeps its claim, as on Redis): the record is kept at least
	// two leases from now.
	if keep := after(until, time.Duration(until-now)); keep > e.exp {
		e.exp = keep
	}
	sh.live.fix(e)
	s.noted(e.deadline())
	return nil
}

// RenewBatch implements core.BatchRenewer: it renews every claim of rs,
// locking each shard once.
func (s *Store) RenewBatch(_ context.Context, lease time.Duration, rs []core.Renewal) {
	now := s.now()
	until := after(now, lease)
	// Order rs by shard (a counting sort of indices) so that each shard is
	// locked once however many of its claims the batch holds.
	var count [shardCount + 1]int32
	shardOf := make([]uint8, len(rs))
	for i := range rs {
		n := s.shardOf(rs[i].Key)
		shardOf[i] = uint8(n)
		count[n+1]++
	}
	for i := 1; i <= shardCount; i++ {
		count[i] += count[i-1]
	}
	order := make([]int32, len(rs))
	next := count
	for i := range rs {
		n := shardOf[i]
		order[next[n]] = int32(i)
		next[n]++
	}
	for n := 0; n < shardCount; n++ {
		from, to := count[n], count[n+1]
		if from == to {
			continue
		}
		sh := &s.shards[n]
		sh.mu.Lock()
		for _, i := range order[from:to] {
			r := &rs[i]
			r.Err = s.renew(sh, r.Key, r.Token, until, now)
		}
		sh.mu.Unlock()
	}
}

// Release implements core.Store.
func (s *Store) Release(_ context.Context, key string, token uint64) error {
	now := s.now()
	sh := &s.shards[s.shardOf(key)]
	sh.mu.Lock()
	e := s.lookup(sh, key, now)
	if e == nil {
		sh.mu.Unlock()
		return nil // already released, or expired: nothing is held
	}
	if e.state != core.StateInFlight || e.token != token {
		sh.mu.Unlock()
		return core.ErrLeaseLost
	}
	s.remove(sh, e)
	sh.mu.Unlock()
	s.ended(key)
	return nil
}

// Get implements core.Store.
func (s *Store) Get(_ context.Context, key string) (core.Record, error) {
	now := s.now()
	sh := &s.shards[s.shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := s.lookup(sh, key, now)
	if e == nil {
		return core.Record{}, core.ErrNotFound
	}
	return s.record(e), nil
}

// Delete implements core.Store.
func (s *Store) Delete(_ context.Context, key string) error {
	sh := &s.shards[s.shardOf(key)]
	sh.mu.Lock()
	e := sh.m[key]
	if e != nil {
		s.remove(sh, e)
	}
	sh.mu.Unlock()
	if e != nil {
		s.ended(key)
	}
	return nil
}

// Len returns the number of records, live or not yet reclaimed.
func (s *Store) Len() int { return int(s.entries.Load()) }

// Stats is a snapshot of a Store's size and of what its bounds did, for
// metrics. The counters are cumulative since New.
type Stats struct {
	// Entries and Bytes are what the store holds now, including expired
	// records not yet reclaimed; Bytes is accounted as EntryOverhead +
	// len(key) + cap(payload) per record.
	Entries int
	Bytes   int64
	// MaxEntries and MaxBytes are the bounds.
	MaxEntries int
	MaxBytes   int64
	// Evicted counts final records (completed, tombstones, uncertain)
	// evicted before their TTL to make room. Each one can make a retry run again: it should stay 0, and a
	// rising count means the bounds are too small for the traffic (or one
	// client floods the store with unique keys).
	Evicted uint64
	// EvictedClaims counts uncommitted in-flight claims dropped, to make
	// room, after their lease had expired (their owner presumed dead); a
	// retry would have taken them over anyway.
	EvictedClaims uint64
	// Expired counts records dropped after their TTL.
	Expired uint64
	// Refused counts claims, completions and resolutions refused with
	// ErrFull or ErrTooLarge, and reasons of tombstones or uncertain
	// records dropped for want of room.
	Refused uint64
}

// Stats returns the store's current size and cumulative counters.
func (s *Store) Stats() Stats {
	st := Stats{MaxEntries: int(s.cfg.maxEntries), MaxBytes: s.cfg.maxBytes, Refused: s.refused.Load()}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		st.Evicted += sh.evicted
		st.EvictedClaims += sh.evictedClaims
		st.Expired += sh.expired
		sh.mu.Unlock()
	}
	st.Entries = int(s.entries.Load())
	st.Bytes = s.bytes.Load()
	return st
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
