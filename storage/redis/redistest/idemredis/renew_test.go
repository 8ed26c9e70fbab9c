package idemredis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// counter counts single commands and pipelines apart.
type counter struct{ cmds, pipes roundTrips }

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return c.cmds.ProcessHook(next)
}
func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return c.pipes.ProcessPipelineHook(next)
}

func claimMany(t *testing.T, st *idemredis.Store, n int, lease time.Duration) []core.Renewal {
	t.Helper()
	rs := make([]core.Renewal, n)
	for i := range rs {
		k := core.StoreKey("renew", fmt.Sprintf("%s-%d-%d", t.Name(), time.Now().UnixNano(), i))
		res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: core.Fingerprint{1}, Nonce: uint64(i + 1), Lease: lease, TTL: time.Minute})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatalf("claim %d: %v %v", i, res.Outcome, err)
		}
		rs[i] = core.Renewal{Key: k, Token: res.Token}
	}
	return rs
}

// Renewals go through the renewal client, all of a batch in one
// pipeline; requests never touch it.
func TestRenewClient(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	renew := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close(); renew.Close() })
	var main, side counter
	rdb.AddHook(&main)
	renew.AddHook(&side)
	st := idemredis.New(rdb, idemredis.WithRenewClient(renew))
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	rs := claimMany(t, st, 50, time.Minute)
	main.cmds.n.Store(0)
	main.pipes.n.Store(0)
	side.cmds.n.Store(0)
	side.pipes.n.Store(0)

	st.RenewBatch(ctx, time.Minute, rs)
	for i, r := range rs {
		if r.Err != nil {
			t.Fatalf("renewal %d: %v", i, r.Err)
		}
	}
	if err := st.Renew(ctx, rs[0].Key, rs[0].Token, time.Minute); err != nil {
		t.Fatal(err)
	}
	if p, c := side.pipes.n.Load(), side.cmds.n.Load(); p != 1 || c != 1 {
		t.Fatalf("renewal client: %d pipelines and %d commands, want 1 and 1", p, c)
	}
	if p, c := main.pipes.n.Load(), main.cmds.n.Load(); p != 0 || c != 0 {
		t.Fatalf("request client carried renewals: %d pipelines, %d commands", p, c)
	}
}

// After SCRIPT FLUSH a batch still renews every claim: the claims that got
// NOSCRIPT go again with EVAL, in a second pipeline.
func TestRenewBatchAfterScriptFlush(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	var c counter
	rdb.AddHook(&c)
	st := idemredis.New(rdb)
	ctx := context.Background()
	rs := claimMany(t, st, 20, time.Minute)
	rs = append(rs, core.Renewal{Key: core.StoreKey("renew", "absent"), Token: 9})
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.pipes.n.Store(0)
	st.RenewBatch(ctx, time.Minute, rs)
	for i, r := range rs[:20] {
		if r.Err != nil {
			t.Fatalf("renewal %d after SCRIPT FLUSH: %v", i, r.Err)
		}
	}
	if !errors.Is(rs[20].Err, core.ErrLeaseLost) {
		t.Fatalf("renewal of an absent claim = %v, want ErrLeaseLost", rs[20].Err)
	}
	if n := c.pipes.n.Load(); n != 2 {
		t.Fatalf("%d pipelines, want 2 (EVALSHA, then EVAL for NOSCRIPT)", n)
	}
	c.pipes.n.Store(0)
	st.RenewBatch(ctx, time.Minute, rs)
	if n := c.pipes.n.Load(); n != 1 || rs[0].Err != nil {
		t.Fatalf("next pass: %d pipelines (err %v), want 1: EVAL cached the script", n, rs[0].Err)
	}
}

// A batch against an unreachable Redis reports a store failure for every
// claim, not a lost lease (the Engine retries on its next pass).
func TestRenewBatchStoreDown(t *testing.T) {
	p := redistest.StartProcess(t)
	rdb := redis.NewClient(&redis.Options{Addr: p.Addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	st := idemredis.New(rdb)
	rs := claimMany(t, st, 5, time.Minute)
	p.Stop()
	st.RenewBatch(context.Background(), time.Minute, rs)
	for i, r := range rs {
		if !errors.Is(r.Err, core.ErrStoreUnavailable) || errors.Is(r.Err, core.ErrLeaseLost) {
			t.Fatalf("renewal %d with Redis down = %v, want ErrStoreUnavailable", i, r.Err)
		}
	}
}

// A batch whose context is already over renews nothing and says why.
func TestRenewBatchCanceled(t *testing.T) {
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	st := idemredis.New(rdb)
	rs := claimMany(t, st, 3, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	st.RenewBatch(ctx, time.Minute, rs)
	for i, r := range rs {
		if !errors.Is(r.Err, core.ErrStoreUnavailable) || !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("renewal %d with a canceled context = %v, want unavailable: context canceled", i, r.Err)
		}
	}
}

// The engine keeps 1,000 long handlers' leases on a real Redis while
// every store call is slowed by 100 ms: duplicates sent after several
// leases all find their key in flight, none runs twice, none loses its
// lease (one pipelined RenewBatch per pass).
func TestEngineRenewalAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 9 s")
	}
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, ContextTimeoutEnabled: true})
	t.Cleanup(func() { rdb.Close() })
	// Renewals get their own small pool, as the package documents: the
	// duplicates' burst of 1,000 Begins must not queue them.
	renew := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 2, ContextTimeoutEnabled: true})
	t.Cleanup(func() { renew.Close() })
	st := idemredis.New(rdb, idemredis.WithPrefix("scale:"), idemredis.WithRenewClient(renew))
	coretest.TestRenewalAtScale(t, st, 1000, 100*time.Millisecond)
}
