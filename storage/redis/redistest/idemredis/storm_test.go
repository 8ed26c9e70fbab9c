package idemredis_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// waiterKey carries a per-request counter of Redis commands (perRequest).
type waiterKey struct{}

// perRequest counts the commands each request sends, through the counter
// its context carries (the Engine's store calls keep the request's
// context values). The handshake of a connection the pool opens for the
// request (HELLO, CLIENT SETINFO, sent as a pipeline) is no store call
// and is not counted.
type perRequest struct{}

func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "client", "auth", "select":
		return true
	}
	return false
}

func (perRequest) DialHook(next redis.DialHook) redis.DialHook { return next }
func (perRequest) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if handshake(cmd) {
			return next(ctx, cmd)
		}
		if n, ok := ctx.Value(waiterKey{}).(*atomic.Int32); ok {
			n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (perRequest) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && handshake(cmds[0]) {
			return next(ctx, cmds)
		}
		if n, ok := ctx.Value(waiterKey{}).(*atomic.Int32); ok {
			n.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestHotKeyStorm: 50 duplicates of a slow original (200 ms, lock wait
// 2 s) each send at most 3 commands to Redis and all get the replay
// (SPEC §7), on a standalone server and on a cluster, with the waiters in
// the original's process (woken by it) and in another (woken by the
// store's subscription).
func TestHotKeyStorm(t *testing.T) {
	redistest.Require(t)
	for _, topo := range []string{"standalone", "cluster"} {
		t.Run(topo, func(t *testing.T) {
			var rdb, rdb2 redis.UniversalClient
			if topo == "standalone" {
				addr := redistest.Server(t)
				rdb = redis.NewClient(&redis.Options{Addr: addr})
				rdb2 = redis.NewClient(&redis.Options{Addr: addr})
			} else {
				addrs := redistest.Cluster(t)
				rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
				rdb2 = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
			}
			t.Cleanup(func() { rdb.Close(); rdb2.Close() })
			rdb.AddHook(perRequest{})
			rdb2.AddHook(perRequest{})
			ownerStore, waitStore := newStore(t, rdb), newStore(t, rdb2)
			for _, st := range []*idemredis.Store{ownerStore, waitStore} {
				if err := st.LoadScripts(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			owner, err := core.New(core.WithStore(ownerStore), core.WithKeyValidator(core.Token()), core.WithLockWait(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			other, err := core.New(core.WithStore(waitStore), core.WithKeyValidator(core.Token()), core.WithLockWait(2*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			for name, waiters := range map[string]*core.Engine{"same process": owner, "other process": other} {
				t.Run(name, func(t *testing.T) {
					calls := storm(t, owner, waiters, t.Name(), 50, 200*time.Millisecond)
					most, sum := int32(0), int32(0)
					for _, c := range calls {
						most, sum = max(most, c), sum+c
					}
					t.Logf("Redis commands per waiter: max %d, mean %.2f", most, float64(sum)/float64(len(calls)))
					if most > 3 {
						t.Errorf("Redis commands per waiter %v, want at most 3", calls)
					}
				})
			}
		})
	}
}

// storm runs one original in owner (its handler sleeps hold) and n
// duplicates in waiters, and returns each duplicate's Redis commands.
func storm(t *testing.T, owner, waiters *core.Engine, key string, n int, hold time.Duration) []int32 {
	ctx := context.Background()
	started := make(chan struct{})
	var runs atomic.Int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, _, err := owner.Do(ctx, "storm", key, core.Fingerprint{7}, func(context.Context) ([]byte, error) {
			runs.Add(1)
			close(started)
			time.Sleep(hold)
			return []byte("result"), nil
		}); err != nil {
			t.Error(err)
		}
	}()
	<-started
	counters := make([]atomic.Int32, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx := context.WithValue(ctx, waiterKey{}, &counters[i])
			out, replayed, err := waiters.Do(wctx, "storm", key, core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				runs.Add(1)
				return []byte("again"), nil
			})
			if err != nil || !replayed || string(out) != "result" {
				t.Errorf("waiter %d: %q, replayed %v, %v", i, out, replayed, err)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("handler ran %d times", runs.Load())
	}
	calls := make([]int32, n)
	for i := range counters {
		calls[i] = counters[i].Load()
	}
	return calls
}
