package idemredis_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

func TestConformanceStandalone(t *testing.T) {
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	coretest.TestStore(t, func(t *testing.T) core.Store { return newStore(t, rdb) })
}

// newStore returns a store on rdb, closed when the test ends (its
// subscription, should it Watch).
func newStore(t *testing.T, rdb redis.UniversalClient, opts ...idemredis.Option) *idemredis.Store {
	st := idemredis.New(rdb, opts...)
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformanceCluster(t *testing.T) {
	addrs := redistest.Cluster(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { rdb.Close() })
	coretest.TestStore(t, func(t *testing.T) core.Store { return newStore(t, rdb, idemredis.WithPrefix("c:")) })

	// The keys of many idempotency keys spread over all three masters.
	ctx := context.Background()
	st := idemredis.New(rdb, idemredis.WithPrefix("spread:"))
	for i := 0; i < 60; i++ {
		k := core.StoreKey("user:u"+string(rune('a'+i%26)), strings.Repeat("k", i%7)+string(rune('A'+i%26)))
		if _, err := st.Begin(ctx, k, core.Attempt{Fingerprint: core.Fingerprint{}, Lease: time.Minute, TTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	used := 0
	for _, a := range addrs {
		c := redis.NewClient(&redis.Options{Addr: a})
		n, err := c.DBSize(ctx).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			used++
		}
	}
	if used < 2 {
		t.Fatalf("records landed on %d of 3 masters; hash tags are not spreading keys", used)
	}
}

// roundTrips counts the commands (and pipelines) a client sends.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestRoundTrips(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	rt := &roundTrips{}
	rdb.AddHook(rt)
	st := idemredis.New(rdb)
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	eng, err := core.New(core.WithStore(st), core.WithKeyValidator(core.Token()))
	if err != nil {
		t.Fatal(err)
	}
	run := func(context.Context) ([]byte, error) { return []byte("r"), nil }

	rt.n.Store(0)
	if _, replayed, err := eng.Do(ctx, "s", "first", core.Fingerprint{}, run); err != nil || replayed {
		t.Fatalf("first: %v %v", replayed, err)
	}
	if n := rt.n.Load(); n != 2 {
		t.Fatalf("first request took %d round trips, want 2 (begin, complete)", n)
	}
	rt.n.Store(0)
	if _, replayed, err := eng.Do(ctx, "s", "first", core.Fingerprint{}, run); err != nil || !replayed {
		t.Fatalf("replay: %v %v", replayed, err)
	}
	if n := rt.n.Load(); n != 1 {
		t.Fatalf("replay took %d round trips, want 1", n)
	}

	// After SCRIPT FLUSH the scripts reload by themselves (EVALSHA, then EVAL).
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if _, replayed, err := eng.Do(ctx, "s", "first", core.Fingerprint{}, run); err != nil || !replayed {
		t.Fatalf("replay after SCRIPT FLUSH: %v %v", replayed, err)
	}
}

func TestOutageAndRecovery(t *testing.T) {
	p := redistest.StartProcess(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	eng, err := core.New(core.WithStore(idemredis.New(rdb)), core.WithKeyValidator(core.Token()))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var runs atomic.Int32
	run := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("r"), nil }
	if _, _, err := eng.Do(ctx, "s", "a", core.Fingerprint{}, run); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	for i := 0; i < 5; i++ {
		if _, _, err := eng.Do(ctx, "s", "b", core.Fingerprint{}, run); !errors.Is(err, core.ErrStoreUnavailable) {
			t.Fatalf("during outage: err = %v, want ErrStoreUnavailable", err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("handler ran %d times during the outage", runs.Load()-1)
	}
	p.Restart(t)
	// Same client, no restart of ours: traffic recovers.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := eng.Do(ctx, "s", "b", core.Fingerprint{}, run)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after Redis returned: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, replayed, err := eng.Do(ctx, "s", "b", core.Fingerprint{}, run); err != nil || !replayed {
		t.Fatalf("after recovery: %v %v", replayed, err)
	}
}

func TestUnknownFormatVersionFailsClosed(t *testing.T) {
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	st := idemredis.New(rdb)
	ctx := context.Background()
	// A future record, and one whose format has no state field at all: a
	// version is enough to make a hash a record that must not be touched.
	for name, fields := range map[string][]any{
		"future":  {"v", "99", "s", "2", "f", "x", "p", "?"},
		"noState": {"v", "99", "x", "1"},
	} {
		k := core.StoreKey("s", name)
		rk := st.RecordKey(k)
		if err := rdb.HSet(ctx, rk, fields...).Err(); err != nil {
			t.Fatal(err)
		}
		_, err := st.Begin(ctx, k, core.Attempt{Fingerprint: core.Fingerprint{}, Nonce: 1, Lease: time.Minute, TTL: time.Minute})
		if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%s: Begin = %v, want unavailable + corrupt", name, err)
		}
		if _, err := st.Get(ctx, k); !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%s: Get = %v, want ErrCorruptRecord", name, err)
		}
		if err := st.Release(ctx, k, 1); !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("%s: Release = %v, want ErrLeaseLost", name, err)
		}
		if err := st.Complete(ctx, k, 1, core.StateCompleted, []byte("x"), time.Minute); !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("%s: Complete = %v, want ErrLeaseLost", name, err)
		}
		if n := rdb.HLen(ctx, rk).Val(); n != int64(len(fields)/2) {
			t.Fatalf("%s: the record was changed: %v", name, rdb.HGetAll(ctx, rk).Val())
		}
	}
}

func TestEveryKeyHasATTL(t *testing.T) {
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	st := idemredis.New(rdb, idemredis.WithPrefix("ttl:"))
	eng, _ := core.New(core.WithStore(st), core.WithKeyValidator(core.Token()), core.WithAlertHandler(func(context.Context, core.Event) {}))
	_, _, _ = eng.Do(ctx, "s", "done", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil })
	var wg sync.WaitGroup
	wg.Add(1)
	hold := make(chan struct{})
	go func() {
		defer wg.Done()
		_, _, _ = eng.Do(ctx, "s", "inflight", core.Fingerprint{}, func(context.Context) ([]byte, error) { <-hold; return nil, nil })
	}()
	time.Sleep(100 * time.Millisecond)
	_, _ = st.AcquireCooldown(ctx, "x", time.Minute)
	keys, err := rdb.Keys(ctx, "ttl:*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("keys = %v, %v; want a completed record, an in-flight one and a cooldown", keys, err)
	}
	for _, k := range keys {
		if d := rdb.PTTL(ctx, k).Val(); d <= 0 {
			t.Errorf("key %s has no TTL (%v)", k, d)
		}
	}
	close(hold)
	wg.Wait()
}

func TestRecordKeyHashTag(t *testing.T) {
	st := idemredis.New(nil, idemredis.WithPrefix("p:"))
	got := st.RecordKey("12:user_route:a}{b|POST /x:key")
	if got != "p:{12:user_route:a%7D%7Bb|POST /x:key}" {
		t.Fatalf("RecordKey = %q", got)
	}
}
