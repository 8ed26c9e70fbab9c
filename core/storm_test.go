package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// callsKey carries a per-request counter of store calls (countingStore).
type callsKey struct{}

// countingStore counts the store calls each request makes, through a
// counter its context carries (callsKey), and all calls in total.
type countingStore struct {
	core.Store
	total atomic.Int64
}

func (s *countingStore) count(ctx context.Context) {
	s.total.Add(1)
	if n, ok := ctx.Value(callsKey{}).(*atomic.Int32); ok {
		n.Add(1)
	}
}

func (s *countingStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	s.count(ctx)
	return s.Store.Begin(ctx, key, a)
}

func (s *countingStore) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	s.count(ctx)
	return s.Store.Renew(ctx, key, token, lease)
}

func (s *countingStore) Complete(ctx context.Context, key string, token uint64, st core.State, p []byte, ttl time.Duration) error {
	s.count(ctx)
	return s.Store.Complete(ctx, key, token, st, p, ttl)
}

func (s *countingStore) Release(ctx context.Context, key string, token uint64) error {
	s.count(ctx)
	return s.Store.Release(ctx, key, token)
}

func (s *countingStore) Get(ctx context.Context, key string) (core.Record, error) {
	s.count(ctx)
	return s.Store.Get(ctx, key)
}

// StormResult is what a hot-key storm measured.
type stormResult struct {
	perWaiter []int32 // store calls of each waiter
	replayed  int     // waiters that got the original's result
}

// hotKeyStorm runs one slow original (handler sleeps hold) and n
// duplicates that arrive while it runs, all on one key of e, and counts
// each duplicate's store calls.
func hotKeyStorm(t testing.TB, e *core.Engine, n int, hold time.Duration) stormResult {
	t.Helper()
	ctx := context.Background()
	started := make(chan struct{})
	var runs atomic.Int32
	go func() {
		_, _, err := e.Do(ctx, "storm", "hot", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
			runs.Add(1)
			close(started)
			time.Sleep(hold)
			return []byte("result"), nil
		})
		if err != nil {
			t.Error(err)
		}
	}()
	<-started
	res := stormResult{perWaiter: make([]int32, n)}
	counters := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := context.WithValue(ctx, callsKey{}, &counters[i])
			out, replayed, err := e.Do(wctx, "storm", "hot", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				runs.Add(1)
				return []byte("again"), nil
			})
			if err != nil || !replayed || string(out) != "result" {
				t.Errorf("waiter %d: %q, replayed %v, %v", i, out, replayed, err)
				return
			}
			mu.Lock()
			res.replayed++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times", runs.Load())
	}
	for i := range counters {
		res.perWaiter[i] = counters[i].Load()
	}
	return res
}

// TestHotKeyStormStoreCalls: 50 duplicates of a slow original (200 ms,
// lock wait 2 s) each cost at most 3 store calls, however long they wait,
// and all get the replay (SPEC §7), whether the store tells waiters of
// completions (the memory store, a core.Notifier) or not (the engine
// polls, once per process and key).
func TestHotKeyStormStoreCalls(t *testing.T) {
	for _, notify := range []bool{true, false} {
		name := "polling"
		if notify {
			name = "notifier"
		}
		t.Run(name, func(t *testing.T) {
			cs := &countingStore{Store: memory.New()}
			var st core.Store = cs
			if notify {
				st = countingNotifier{cs}
			}
			e := newEngine(t, core.WithStore(st), core.WithLockWait(2*time.Second))
			const n = 50
			res := hotKeyStorm(t, e, n, 200*time.Millisecond)
			if res.replayed != n {
				t.Fatalf("%d of %d waiters replayed", res.replayed, n)
			}
			most, sum, over := int32(0), int32(0), 0
			for _, c := range res.perWaiter {
				most = max(most, c)
				sum += c
				if c > 3 {
					over++
				}
			}
			t.Logf("store calls per waiter: max %d, mean %.2f, all calls %d", most, float64(sum)/n, cs.total.Load())
			// Without a Notifier one waiter polls for the others.
			if notify && most > 3 || !notify && over > 1 {
				t.Errorf("store calls per waiter %v, want at most 3 (polling: but for one waiter)", res.perWaiter)
			}
		})
	}
}

// countingNotifier is a countingStore whose store is a core.Notifier.
type countingNotifier struct{ *countingStore }

func (s countingNotifier) Watch(ctx context.Context, key string, fn func()) (func(), error) {
	return s.Store.(core.Notifier).Watch(ctx, key, fn)
}

// TestStormAcrossEngines: the original runs in another Engine (another
// process, as far as the waiters know): only the store's Notifier can wake
// them, and each still costs at most 3 store calls.
func TestStormAcrossEngines(t *testing.T) {
	cs := &countingStore{Store: memory.New()}
	owner := newEngine(t, core.WithStore(cs))
	waiters := newEngine(t, core.WithStore(countingNotifier{cs}), core.WithLockWait(2*time.Second))
	ctx := context.Background()
	started, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = owner.Do(ctx, "storm", "hot", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
			close(started)
			time.Sleep(150 * time.Millisecond)
			return []byte("result"), nil
		})
	}()
	<-started
	const n = 20
	counters := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := context.WithValue(ctx, callsKey{}, &counters[i])
			out, replayed, err := waiters.Do(wctx, "storm", "hot", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				return []byte("again"), nil
			})
			if err != nil || !replayed || string(out) != "result" {
				t.Errorf("waiter %d: %q, replayed %v, %v", i, out, replayed, err)
			}
			if c := counters[i].Load(); c > 3 {
				t.Errorf("waiter %d made %d store calls", i, c)
			}
		}()
	}
	wg.Wait()
	<-done
}

// TestWaiterTakesOverDeadOwner: no wake-up comes from a dead owner; the
// waiter Begins when its lease runs out and takes the claim over, well
// before the lock wait ends.
func TestWaiterTakesOverDeadOwner(t *testing.T) {
	cs := &countingStore{Store: memory.New()}
	e := newEngine(t, core.WithStore(countingNotifier{cs}), core.WithLockWait(5*time.Second), core.WithLease(100*time.Millisecond))
	ctx := context.Background()
	// The dead owner's claim, made directly: nobody completes it.
	if _, err := cs.Begin(ctx, core.StoreKey("storm", "dead"), core.Attempt{Fingerprint: core.Fingerprint{7}, Nonce: 1, Lease: 100 * time.Millisecond, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	start := time.Now()
	out, replayed, err := e.Do(context.WithValue(ctx, callsKey{}, &calls), "storm", "dead", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
		return []byte("mine"), nil
	})
	if err != nil || replayed || string(out) != "mine" {
		t.Fatalf("Do = %q, %v, %v; want a takeover", out, replayed, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took over after %v", d)
	}
	// Begin, the Begin after watching, the takeover at the lease's end
	// (Complete is not the waiter's any more, it is the new owner's).
	if c := calls.Load(); c > 4 {
		t.Fatalf("%d store calls", c)
	}
}

// TestWaiterGivesUpAtLockWait: a waiter never waits past the lock wait.
func TestWaiterGivesUpAtLockWait(t *testing.T) {
	for _, notify := range []bool{true, false} {
		cs := &countingStore{Store: memory.New()}
		var st core.Store = cs
		if notify {
			st = countingNotifier{cs}
		}
		e := newEngine(t, core.WithStore(st), core.WithLockWait(100*time.Millisecond))
		ctx := context.Background()
		if _, err := cs.Begin(ctx, core.StoreKey("storm", "slow"), core.Attempt{Fingerprint: core.Fingerprint{7}, Nonce: 1, Lease: time.Minute, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int32
		start := time.Now()
		_, _, err := e.Do(context.WithValue(ctx, callsKey{}, &calls), "storm", "slow", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
			return nil, nil
		})
		d := time.Since(start)
		if !errors.Is(err, core.ErrInFlight) || d < 100*time.Millisecond || d > time.Second {
			t.Fatalf("notify %v: err %v after %v; want ErrInFlight after the 100ms lock wait", notify, err, d)
		}
		if c := calls.Load(); notify && c > 3 {
			t.Fatalf("%d store calls", c)
		}
	}
}

// TestStormOwnerFails: the original fails and releases the key; the
// waiters wake, one runs the handler again, the others replay its result.
func TestStormOwnerFails(t *testing.T) {
	e := newEngine(t, core.WithLockWait(2*time.Second))
	ctx := context.Background()
	started := make(chan struct{})
	var runs atomic.Int32
	go func() {
		_, _, _ = e.Do(ctx, "storm", "fails", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
			runs.Add(1)
			close(started)
			time.Sleep(100 * time.Millisecond)
			return nil, errors.New("boom")
		})
	}()
	<-started
	var wg sync.WaitGroup
	var replays atomic.Int32
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, replayed, err := e.Do(ctx, "storm", "fails", core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				runs.Add(1)
				time.Sleep(50 * time.Millisecond)
				return []byte("second"), nil
			})
			if err != nil || string(out) != "second" {
				t.Errorf("%q %v %v", out, replayed, err)
			}
			if replayed {
				replays.Add(1)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 2 || replays.Load() != 9 {
		t.Fatalf("runs %d, replays %d; want 2 and 9", runs.Load(), replays.Load())
	}
}
