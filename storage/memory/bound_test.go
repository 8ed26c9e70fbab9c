package memory_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// clock is a settable time source for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var nonces atomic.Uint64

// complete claims k and stores payload for ttl; it returns Begin's result.
func complete(t testing.TB, st *memory.Store, k string, payload []byte, ttl time.Duration) core.BeginResult {
	t.Helper()
	ctx := context.Background()
	res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: ttl})
	if err != nil {
		t.Fatalf("Begin(%.40q): %v", k, err)
	}
	if res.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin(%.40q) = %v, want claimed", k, res.Outcome)
	}
	if err := st.Complete(ctx, k, res.Token, core.StateCompleted, payload, ttl); err != nil {
		t.Fatalf("Complete(%.40q): %v", k, err)
	}
	return res
}

// A flood of unique keys must not evict a completed record whose TTL is
// live while expired records (of a route with a short TTL) are held,
// wherever they sit in claim order.
func TestExpiredReclaimedBeforeLive(t *testing.T) {
	const n = 2048
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(n), memory.WithClock(clk.Now))
	ctx := context.Background()

	// Claim order: one 24 h record (a victim) then three 2 s records, so
	// that expired records lie behind live ones, not only at the old end.
	var victims []string
	short := 0
	for i := 0; len(victims) < 200; i++ {
		if i%4 == 0 {
			k := fmt.Sprintf("victim:%d", i)
			complete(t, st, k, []byte("paid"), 24*time.Hour)
			victims = append(victims, k)
		} else {
			complete(t, st, fmt.Sprintf("vote:%d", i), []byte("ok"), 2*time.Second)
			short++
		}
	}
	if got := st.Len(); got != len(victims)+short {
		t.Fatalf("after filling, Len = %d, want %d (nothing evicted yet)", got, len(victims)+short)
	}
	clk.Advance(3 * time.Second) // every 2 s record has expired

	// One client floods unique keys until the store is full of live
	// records: there is room for all of them without evicting a victim.
	for i := 0; i < n-len(victims); i++ {
		ttl := 24 * time.Hour
		if i%2 == 1 {
			ttl = time.Hour
		}
		if res := complete(t, st, fmt.Sprintf("flood:%d", i), nil, ttl); res.Evicted != 0 {
			t.Fatalf("flood key %d evicted %d live records while %d expired ones were held", i, res.Evicted, st.Len()-len(victims)-i)
		}
	}
	for _, k := range victims {
		if _, err := st.Get(ctx, k); err != nil {
			t.Fatalf("victim %s evicted within its TTL while expired records were held: %v", k, err)
		}
	}
	stats := st.Stats()
	if stats.Entries != n || stats.Evicted != 0 || stats.Expired != uint64(short) {
		t.Fatalf("stats = %+v, want %d entries, 0 evicted, %d expired", stats, n, short)
	}
	memory.CheckInvariants(t, st)
}

// Once the store is full of live records, a new one evicts a completed
// record and says so, in BeginResult.Evicted and in Stats.
func TestEvictionReported(t *testing.T) {
	const n = 256
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(n), memory.WithClock(clk.Now))
	for i := 0; i < n; i++ {
		if res := complete(t, st, fmt.Sprintf("old:%d", i), nil, time.Hour); res.Evicted != 0 {
			t.Fatalf("record %d of %d evicted %d records", i, n, res.Evicted)
		}
	}
	clk.Advance(time.Second)
	res := complete(t, st, "new", nil, time.Hour)
	if res.Evicted != 1 {
		t.Fatalf("BeginResult.Evicted = %d, want 1", res.Evicted)
	}
	if s := st.Stats(); s.Evicted != 1 || s.Entries != n {
		t.Fatalf("stats = %+v, want 1 evicted and %d entries", s, n)
	}
	// A claim whose lease expired is evicted before any completed record,
	// and is not reported as an evicted record.
	ctx := context.Background()
	if err := st.Delete(ctx, "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Begin(ctx, "abandoned", core.Attempt{Nonce: 1, Lease: time.Second, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	res = complete(t, st, "after", nil, time.Hour)
	if s := st.Stats(); res.Evicted != 0 || s.Evicted != 1 || s.EvictedClaims != 1 {
		t.Fatalf("Evicted = %d, stats = %+v; want the abandoned claim evicted, no record", res.Evicted, s)
	}
	if _, err := st.Get(ctx, "abandoned"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("abandoned claim kept: %v", err)
	}
	memory.CheckInvariants(t, st)
}

// The entry bound is the store's, not a share per shard: N live claims
// fit however their keys hash, the N+1st is refused, and a store of
// completed records takes any number of new keys without exceeding N.
func TestGlobalBound(t *testing.T) {
	ctx := context.Background()
	t.Run("LiveClaims", func(t *testing.T) {
		const n = 6400
		st := memory.New(memory.WithMaxEntries(n))
		a := core.Attempt{Nonce: 1, Lease: time.Minute, TTL: time.Hour}
		var tokens []uint64
		for i := 0; i < n; i++ {
			res, err := st.Begin(ctx, fmt.Sprintf("claim:%d", i), a)
			if err != nil {
				t.Fatalf("claim %d of %d refused: %v", i+1, n, err)
			}
			tokens = append(tokens, res.Token)
		}
		_, err := st.Begin(ctx, "one-too-many", a)
		if !errors.Is(err, memory.ErrFull) || !errors.Is(err, core.ErrStoreUnavailable) {
			t.Fatalf("claim %d = %v, want ErrFull wrapped in ErrStoreUnavailable", n+1, err)
		}
		for i := 0; i < n; i++ { // no live claim was evicted
			if rec, err := st.Get(ctx, fmt.Sprintf("claim:%d", i)); err != nil || rec.Token != tokens[i] {
				t.Fatalf("claim %d: %+v, %v", i, rec, err)
			}
		}
		if err := st.Release(ctx, "claim:7", tokens[7]); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Begin(ctx, "one-too-many", a); err != nil {
			t.Fatalf("claim after a release: %v", err)
		}
		if s := st.Stats(); s.Refused != 1 || s.Evicted != 0 {
			t.Fatalf("stats = %+v, want 1 refused, 0 evicted", s)
		}
		memory.CheckInvariants(t, st)
	})
	t.Run("CompletedRecords", func(t *testing.T) {
		const n = 650
		const maxBytes = n * (memory.EntryOverhead + 64)
		st := memory.New(memory.WithMaxEntries(n), memory.WithMaxBytes(maxBytes))
		payload := make([]byte, 48)
		for i := 0; i < 20*n; i++ {
			k := fmt.Sprintf("k:%d", i)
			complete(t, st, k, payload, time.Hour)
			if s := st.Stats(); s.Entries > n || s.Bytes > maxBytes {
				t.Fatalf("after %d records: %d entries, %d bytes; bounds %d, %d", i+1, s.Entries, s.Bytes, n, maxBytes)
			}
			if _, err := st.Get(ctx, k); err != nil {
				t.Fatalf("newest record %s evicted: %v", k, err)
			}
		}
		if s := st.Stats(); s.Evicted != uint64(19*n) {
			t.Fatalf("Evicted = %d, want %d", s.Evicted, 19*n)
		}
		memory.CheckInvariants(t, st)
	})
}

// Many goroutines claim, complete, release, renew and delete at once on a
// small store: the bounds hold at every moment and the counters stay
// exact. Run it with -race.
func TestBoundsUnderConcurrency(t *testing.T) {
	const n, maxBytes = 300, 300 * 300
	st := memory.New(memory.WithMaxEntries(n), memory.WithMaxBytes(maxBytes))
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var over atomic.Value
	go func() { // watch the bounds while the others work
		for {
			select {
			case <-stop:
				return
			default:
			}
			if s := st.Stats(); s.Entries > n || s.Bytes > maxBytes {
				over.Store(s)
			}
		}
	}()
	var claims, refused atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			payload := make([]byte, 100+g*40)
			for i := 0; i < 3000; i++ {
				k := fmt.Sprintf("g%d:%d", g, i%700)
				lease := time.Minute
				if i%10 == 0 {
					lease = time.Millisecond // abandoned below
				}
				res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: lease, TTL: time.Duration(1+i%3) * 100 * time.Millisecond})
				if errors.Is(err, memory.ErrFull) {
					refused.Add(1)
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if res.Outcome != core.OutcomeOriginal {
					continue
				}
				claims.Add(1)
				if i%10 == 0 {
					continue
				}
				switch i % 7 {
				case 0, 1, 2, 3:
					err = st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Duration(1+i%4)*50*time.Millisecond)
				case 4:
					err = st.Release(ctx, k, res.Token)
				case 5:
					rs := []core.Renewal{{Key: k, Token: res.Token}}
					st.RenewBatch(ctx, time.Minute, rs)
					if err = rs[0].Err; err == nil {
						err = st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Second)
					}
				default:
					err = st.Delete(ctx, k)
				}
				if err != nil && !errors.Is(err, core.ErrLeaseLost) && !errors.Is(err, memory.ErrFull) {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	if s, ok := over.Load().(memory.Stats); ok {
		t.Fatalf("bounds exceeded: %+v", s)
	}
	if claims.Load() == 0 {
		t.Fatal("nothing was claimed")
	}
	t.Logf("%d claims, %d refused, %+v", claims.Load(), refused.Load(), st.Stats())
	memory.CheckInvariants(t, st)
}

// A 60 KB user id in the scope makes every key 60 KB: the byte bound
// holds the store to its size whatever the keys, in accounted bytes and in
// the heap.
func TestByteBoundHugeKeys(t *testing.T) {
	const maxBytes = 8 << 20
	st := memory.New(memory.WithMaxBytes(maxBytes))
	user := strings.Repeat("u", 60_000)
	heapBefore := heapInUse()
	for i := 0; i < 600; i++ { // 36 MB of keys
		k := fmt.Sprintf("%d:user_route:%s|POST /votes:%d", len(user)+18, user, i)
		complete(t, st, k, make([]byte, 1024), time.Hour)
		if s := st.Stats(); s.Bytes > maxBytes {
			t.Fatalf("after %d records: %d bytes accounted, bound %d", i+1, s.Bytes, maxBytes)
		}
	}
	grown := int64(heapInUse()) - int64(heapBefore)
	s := st.Stats()
	t.Logf("%d records, %d bytes accounted, heap grew %d bytes", s.Entries, s.Bytes, grown)
	if grown > maxBytes*5/4 {
		t.Fatalf("heap grew by %d bytes for a store bounded to %d", grown, maxBytes)
	}
	if s.Entries > maxBytes/60_000 || s.Entries < maxBytes/(64<<10+1024+memory.EntryOverhead) {
		t.Fatalf("%d records held in %d bytes of 60 KB keys", s.Entries, maxBytes)
	}
	if grown < s.Bytes*7/8 {
		t.Fatalf("accounted %d bytes but the heap grew by only %d: the accounting is not honest", s.Bytes, grown)
	}
	memory.CheckInvariants(t, st)
	runtime.KeepAlive(st)
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// A record that alone is larger than the byte bound is refused, at Begin
// for its key and at Complete for its response; the claim is kept.
func TestTooLarge(t *testing.T) {
	ctx := context.Background()
	st := memory.New(memory.WithMaxBytes(64 << 10))
	_, err := st.Begin(ctx, strings.Repeat("k", 70<<10), core.Attempt{Nonce: 1, Lease: time.Minute, TTL: time.Hour})
	if !errors.Is(err, memory.ErrTooLarge) || !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Begin with a 70 KiB key = %v, want ErrTooLarge", err)
	}
	res, err := st.Begin(ctx, "k", core.Attempt{Nonce: 1, Lease: time.Minute, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Complete(ctx, "k", res.Token, core.StateCompleted, make([]byte, 64<<10), time.Hour)
	if !errors.Is(err, memory.ErrTooLarge) || !errors.Is(err, core.ErrPayloadTooLarge) {
		t.Fatalf("Complete with a 64 KiB payload = %v, want ErrTooLarge and core.ErrPayloadTooLarge", err)
	}
	if errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Complete with a 64 KiB payload = %v: not an outage, a retry cannot help", err)
	}
	if err := st.Release(ctx, "k", res.Token); err != nil {
		t.Fatalf("Release after a refused Complete: %v", err)
	}
	memory.CheckInvariants(t, st)
}

// RenewBatch renews claims spread over every shard, reports lost ones and
// keeps the heaps in order (the expiry of a renewed claim moves).
func TestRenewBatch(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithClock(clk.Now), memory.WithMaxEntries(1000))
	var rs []core.Renewal
	for i := 0; i < 500; i++ {
		k := fmt.Sprintf("r:%d", i)
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: uint64(i + 1), Lease: time.Second, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, core.Renewal{Key: k, Token: res.Token})
	}
	rs[3].Token++
	rs = append(rs, core.Renewal{Key: "absent", Token: 1})
	st.RenewBatch(ctx, 10*time.Second, rs)
	for i, r := range rs {
		wantLost := i == 3 || i == len(rs)-1
		if lost := errors.Is(r.Err, core.ErrLeaseLost); lost != wantLost || (!lost && r.Err != nil) {
			t.Fatalf("renewal %d: %v", i, r.Err)
		}
	}
	clk.Advance(5 * time.Second)
	// Fill the store: renewed claims are live, the one not renewed is an
	// abandoned claim and is the only one evicted.
	for i := 0; i < 502; i++ {
		complete(t, st, fmt.Sprintf("x:%d", i), nil, time.Hour)
	}
	for i, r := range rs[:500] {
		rec, err := st.Get(ctx, r.Key)
		if i == 3 {
			if !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("unrenewed claim kept: %+v, %v", rec, err)
			}
			continue
		}
		if err != nil || rec.State != core.StateInFlight {
			t.Fatalf("renewed claim %d: %+v, %v", i, rec, err)
		}
	}
	if s := st.Stats(); s.EvictedClaims != 1 || s.Evicted != 1 {
		t.Fatalf("stats = %+v, want 1 abandoned claim and 1 record evicted", s)
	}
	memory.CheckInvariants(t, st)
}

// More distinct TTLs than a shard keeps lists for, and a clock that steps
// back: records still leave in order of expiry, expired ones first.
func TestManyTTLs(t *testing.T) {
	const n = 1000
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(n), memory.WithClock(clk.Now))
	ttlOf := func(i int) time.Duration { return time.Duration(1+(i*7)%50) * time.Second }
	for i := 0; i < n; i++ {
		if i%100 == 99 {
			clk.Advance(-time.Second) // a wall clock stepped back
		}
		complete(t, st, fmt.Sprintf("old:%d", i), nil, ttlOf(i))
		clk.Advance(time.Millisecond)
	}
	memory.CheckInvariants(t, st)
	clk.Advance(25 * time.Second)
	now := clk.Now()
	expired := 0
	start := time.Unix(1_700_000_000, 0)
	for i := 0; i < n; i++ { // recompute each record's expiry as the store saw it
		at := start.Add(time.Duration(i)*time.Millisecond - time.Duration((i+1)/100)*time.Second)
		if !now.Before(at.Add(ttlOf(i))) {
			expired++
		}
	}
	if expired == 0 || expired == n {
		t.Fatalf("%d of %d records expired; the test wants some of each", expired, n)
	}
	for i := 0; i < expired; i++ {
		if res := complete(t, st, fmt.Sprintf("new:%d", i), nil, time.Hour); res.Evicted != 0 {
			t.Fatalf("new record %d evicted a live record with expired ones held", i)
		}
	}
	if s := st.Stats(); s.Evicted != 0 || s.Expired != uint64(expired) || s.Entries != n {
		t.Fatalf("stats = %+v, want %d expired, none evicted", s, expired)
	}
	// Now full of live records: the next evicts the one closest to expiry.
	res := complete(t, st, "one-more", nil, time.Hour)
	if res.Evicted != 1 {
		t.Fatalf("Evicted = %d, want 1", res.Evicted)
	}
	memory.CheckInvariants(t, st)
}
