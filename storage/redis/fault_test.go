package idemredis_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// Fault tests: go-redis and a real redis-server with a coretest.FaultProxy
// between them, on loopback.

// events records the Engine's event types.
type events struct {
	mu  sync.Mutex
	got []core.Event
}

func (e *events) Event(_ context.Context, ev *core.Event) {
	e.mu.Lock()
	e.got = append(e.got, *ev)
	e.mu.Unlock()
}
func (e *events) Measure(context.Context, *core.Measurement) {}

func (e *events) of(typ core.EventType) []core.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []core.Event
	for _, ev := range e.got {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

// warmPool opens n connections in rdb's pool, so that a stall never hits
// a connection's handshake (a stalled HELLO fails the dial, and the
// command is then never sent twice, which is not what these tests are
// about).
func warmPool(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	conns := make([]*redis.Conn, n)
	for i := range conns {
		conns[i] = rdb.Conn()
		if err := conns[i].Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// evalshaCalls reads how many EVALSHA the server ran since the last
// CONFIG RESETSTAT.
func evalshaCalls(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	calls, _, err := evalshaStats(context.Background(), rdb)
	if err != nil {
		t.Fatal(err)
	}
	return calls
}

// TestFaultResentCommands stalls Redis's replies past the client's read
// timeout while the Engine runs keys: go-redis gives up on the reply and
// sends the command again, which Redis then runs a second time. Every
// resend must be recognised: a resent Begin gets its own claim (without
// the nonce it would meet its own claim in flight and the key would lock
// itself up for the lease: ErrInFlight), a resent Complete or Release
// succeeds (without that, a false LOCK_INCONSISTENCY). No handler may run
// twice.
func TestFaultResentCommands(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	proxy := coretest.NewFaultProxy(t, addr)
	direct := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	rdb := redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: 1, PoolSize: 64})
	t.Cleanup(func() { rdb.Close(); direct.Close() })
	st := idemredis.New(rdb, idemredis.WithPrefix("fault:"))
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	eng, err := core.New(core.WithStore(st), core.WithKeyValidator(core.Token()), core.WithTelemetry(ev),
		core.WithLease(3*time.Second), core.WithLockWait(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	const n = 20
	const stallWindow, stallHold = 120 * time.Millisecond, 300 * time.Millisecond
	type key struct {
		name string
		runs atomic.Int32
	}
	newKeys := func(phase string) []*key {
		ks := make([]*key, n)
		for i := range ks {
			ks[i] = &key{name: fmt.Sprintf("%s-%d-%d", phase, time.Now().UnixNano(), i)}
		}
		return ks
	}
	// runAll runs every key through eng.Do at once, started together, and
	// returns each call's error. fn gets the key's index.
	runAll := func(ks []*key, before func(), fn func(i int) ([]byte, error)) []error {
		errs := make([]error, len(ks))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, k := range ks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				out, replayed, err := eng.Do(dctx, "fault", k.name, core.Fingerprint{7}, func(context.Context) ([]byte, error) {
					k.runs.Add(1)
					return fn(i)
				})
				if err == nil && (replayed || string(out) != k.name) {
					err = fmt.Errorf("first Do answered %q replayed=%v, want its own run", out, replayed)
				}
				errs[i] = err
			}()
		}
		if before != nil {
			before()
		}
		close(start)
		wg.Wait()
		return errs
	}
	// replayAll retries every key once nothing runs: each must replay its
	// successful run's result, and its handler must have run runs times.
	replayAll := func(t *testing.T, ks []*key, runs int32) {
		t.Helper()
		for _, k := range ks {
			out, replayed, err := eng.Do(ctx, "fault", k.name, core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				k.runs.Add(1)
				return []byte("again"), nil
			})
			if err != nil || !replayed || string(out) != k.name {
				t.Errorf("retry of %s = %q replayed=%v err=%v; want a replay of the first run", k.name, out, replayed, err)
			}
			if r := k.runs.Load(); r != runs {
				t.Errorf("%s: handler ran %d times, want %d", k.name, r, runs)
			}
		}
	}
	// Each phase loses the connections whose replies were stalled: open
	// enough again first.
	warm := func(t *testing.T) { warmPool(t, rdb, 2*n+8) }
	resetStats := func() {
		if err := direct.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	noLockInconsistency := func(t *testing.T) {
		t.Helper()
		for _, e := range ev.of(core.EventLockInconsistency) {
			t.Errorf("LOCK_INCONSISTENCY: %s (%v)", e.Detail, e.Err)
		}
	}

	t.Run("Begin", func(t *testing.T) {
		warm(t)
		ks := newKeys("begin")
		resetStats()
		stalledBefore := proxy.Stalled(coretest.Downstream)
		errs := runAll(ks, func() { proxy.Stall(coretest.Downstream, stallWindow, stallHold) },
			func(i int) ([]byte, error) { return []byte(ks[i].name), nil })
		for i, err := range errs {
			if errors.Is(err, core.ErrInFlight) {
				t.Errorf("%s: ErrInFlight: the resent Begin met its own claim", ks[i].name)
			} else if err != nil {
				t.Errorf("%s: %v", ks[i].name, err)
			}
		}
		// Every Begin reply was stalled and every Begin ran twice:
		// 20 Begins, 20 resends, 20 Completes.
		if s := proxy.Stalled(coretest.Downstream) - stalledBefore; s < n {
			t.Errorf("the stall held %d replies, want at least %d", s, n)
		}
		if c := evalshaCalls(t, direct); c != 3*n {
			t.Errorf("Redis ran %d scripts, want %d (each Begin twice, each Complete once)", c, 3*n)
		}
		replayAll(t, ks, 1)
		noLockInconsistency(t)
	})

	t.Run("Complete", func(t *testing.T) {
		warm(t)
		ks := newKeys("complete")
		var started sync.WaitGroup
		started.Add(n)
		release := make(chan struct{})
		go func() {
			started.Wait()
			resetStats()
			proxy.Stall(coretest.Downstream, stallWindow, stallHold)
			close(release)
		}()
		errs := runAll(ks, nil, func(i int) ([]byte, error) {
			started.Done()
			<-release
			return []byte(ks[i].name), nil
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s: %v", ks[i].name, err)
			}
		}
		if c := evalshaCalls(t, direct); c != 2*n {
			t.Errorf("Redis ran %d scripts, want %d (each Complete twice)", c, 2*n)
		}
		// The first Complete stored the result, its resend changed
		// nothing and reported no fencing failure.
		replayAll(t, ks, 1)
		noLockInconsistency(t)
	})

	t.Run("Release", func(t *testing.T) {
		warm(t)
		ks := newKeys("release")
		var started sync.WaitGroup
		started.Add(n)
		release := make(chan struct{})
		go func() {
			started.Wait()
			resetStats()
			proxy.Stall(coretest.Downstream, stallWindow, stallHold)
			close(release)
		}()
		fail := errors.New("handler failed")
		errs := runAll(ks, nil, func(int) ([]byte, error) {
			started.Done()
			<-release
			return nil, fail
		})
		for i, err := range errs {
			if !errors.Is(err, fail) {
				t.Errorf("%s: %v, want the handler's error", ks[i].name, err)
			}
		}
		if c := evalshaCalls(t, direct); c != 2*n {
			t.Errorf("Redis ran %d scripts, want %d (each Release twice)", c, 2*n)
		}
		noLockInconsistency(t)
		// Released: a retry runs once more, and only once.
		for _, k := range ks {
			out, replayed, err := eng.Do(ctx, "fault", k.name, core.Fingerprint{7}, func(context.Context) ([]byte, error) {
				k.runs.Add(1)
				return []byte(k.name), nil
			})
			if err != nil || replayed || string(out) != k.name {
				t.Errorf("retry of released %s = %q replayed=%v err=%v; want a fresh run", k.name, out, replayed, err)
			}
		}
		replayAll(t, ks, 2) // the failed run and its retry

	})

	// A caller without a nonce: the store draws one per call, so a
	// transport resend still finds its own claim.
	t.Run("BeginWithoutNonce", func(t *testing.T) {
		warm(t)
		ks := newKeys("nononce")
		res := make([]core.BeginResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		resetStats()
		proxy.Stall(coretest.Downstream, stallWindow, stallHold)
		for i, k := range ks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i], errs[i] = st.Begin(ctx, k.name, core.Attempt{Fingerprint: core.Fingerprint{7}, Lease: time.Minute, TTL: time.Minute})
			}()
		}
		wg.Wait()
		for i := range ks {
			if errs[i] != nil || res[i].Outcome != core.Claimed {
				t.Errorf("%s: Begin = %v, %v; want claimed", ks[i].name, res[i].Outcome, errs[i])
			}
		}
		if c := evalshaCalls(t, direct); c != 2*n {
			t.Errorf("Redis ran %d scripts, want %d (each Begin twice)", c, 2*n)
		}
	})
}

// TestFaultRenewalAtScale keeps 1,000 claims with a 600 ms lease alive
// through RenewBatch every 200 ms for 2 s, with 100 ms of added Redis
// latency and the request client's pool saturated by 200 requests in
// flight. The renewals go through their own client (WithRenewClient): one
// pipeline per pass. Renewed one by one, a pass would take 1,000 × 100 ms
// = 100 s and every lease but the first few would be lost; queued on the
// request pool (20 connections, 200 requests at 100 ms), each pass would
// wait about a second for a connection, past the lease.
func TestFaultRenewalAtScale(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	proxy := coretest.NewFaultProxy(t, addr)
	opts := func(addr string, pool int) *redis.Options {
		return &redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: pool,
			ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1}
	}
	direct := redis.NewClient(opts(addr, 16))
	requests := redis.NewClient(opts(proxy.Addr(), 20))
	renewals := redis.NewClient(opts(proxy.Addr(), 2))
	t.Cleanup(func() { direct.Close(); requests.Close(); renewals.Close() })
	var rt counter
	renewals.AddHook(&rt)
	const prefix = "scale:"
	st := idemredis.New(requests, idemredis.WithPrefix(prefix), idemredis.WithRenewClient(renewals))
	check := idemredis.New(direct, idemredis.WithPrefix(prefix)) // the other instances' view
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}

	const claims, lease, every, span = 1000, 600 * time.Millisecond, 200 * time.Millisecond, 2 * time.Second
	fp := core.Fingerprint{9}
	rs := make([]core.Renewal, claims)
	var wg sync.WaitGroup
	errs := make(chan error, claims)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < claims; i += 16 {
				k := fmt.Sprintf("scale-%d", i)
				res, err := check.Begin(ctx, k, core.Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: lease, TTL: time.Minute})
				if err != nil || res.Outcome != core.Claimed {
					errs <- fmt.Errorf("claim %s: %v %v", k, res.Outcome, err)
					return
				}
				rs[i] = core.Renewal{Key: k, Token: res.Token}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// From now on every byte through the proxy is 100 ms late, and 200
	// requests keep the request client's 20 connections busy.
	proxy.SetLatency(coretest.Downstream, 100*time.Millisecond)
	stop := make(chan struct{})
	var load sync.WaitGroup
	for i := 0; i < 200; i++ {
		load.Add(1)
		go func() {
			defer load.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _ = st.Get(ctx, rs[i].Key)
			}
		}()
	}
	defer func() { close(stop); load.Wait() }()

	// Every ~300 ms another instance tries each key: all must still be in
	// flight, never claimable.
	checkAll := func() error {
		var bad atomic.Int32
		var first atomic.Value
		var cw sync.WaitGroup
		for w := 0; w < 16; w++ {
			cw.Add(1)
			go func() {
				defer cw.Done()
				for i := w; i < claims; i += 16 {
					res, err := check.Begin(ctx, rs[i].Key, core.Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: lease, TTL: time.Minute})
					if err != nil || res.Outcome != core.InFlight {
						if bad.Add(1) == 1 {
							first.Store(fmt.Sprintf("%s: %v %v", rs[i].Key, res.Outcome, err))
						}
					}
				}
			}()
		}
		cw.Wait()
		if n := bad.Load(); n > 0 {
			return fmt.Errorf("%d of %d claims not in flight for another instance (first: %v)", n, claims, first.Load())
		}
		return nil
	}
	checkErr := make(chan error, 1)
	checkStop := make(chan struct{})
	go func() {
		defer close(checkErr)
		for {
			select {
			case <-checkStop:
				return
			case <-time.After(300 * time.Millisecond):
			}
			if err := checkAll(); err != nil {
				checkErr <- err
				return
			}
		}
	}()

	rt.cmds.n.Store(0)
	rt.pipes.n.Store(0)
	passes := 0
	start := time.Now()
	var slowest time.Duration
	for next := start; time.Since(start) < span; next = next.Add(every) {
		time.Sleep(time.Until(next))
		pctx, cancel := context.WithTimeout(ctx, every)
		t0 := time.Now()
		st.RenewBatch(pctx, lease, rs)
		slowest = max(slowest, time.Since(t0))
		cancel()
		passes++
		for _, r := range rs {
			if r.Err != nil {
				t.Fatalf("pass %d: renewal of %s: %v", passes, r.Key, r.Err)
			}
		}
	}
	close(checkStop)
	if err := <-checkErr; err != nil {
		t.Fatal(err)
	}
	if err := checkAll(); err != nil {
		t.Fatalf("after %d passes: %v", passes, err)
	}
	if p, c := rt.pipes.n.Load(), rt.cmds.n.Load(); p != int64(passes) || c != 0 {
		t.Fatalf("%d passes took %d pipelines and %d single commands, want one pipeline per pass", passes, p, c)
	}
	t.Logf("%d passes of %d renewals, slowest %v", passes, claims, slowest)
}
