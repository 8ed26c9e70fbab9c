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

// resendingStore returns a store whose client reaches a real Redis
// through a fault proxy with a short read timeout and one retry, so that
// stalling the proxy's replies makes go-redis resend commands that Redis
// has run; and a direct client to the same server.
func resendingStore(t *testing.T, prefix string) (st *idemredis.Store, rdb, direct *redis.Client, proxy *coretest.FaultProxy) {
	t.Helper()
	redistest.Require(t)
	addr := redistest.Server(t)
	proxy = coretest.NewFaultProxy(t, addr)
	direct = redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	rdb = redis.NewClient(&redis.Options{Addr: proxy.Addr(), ContextTimeoutEnabled: true,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: 1, PoolSize: 64})
	t.Cleanup(func() { rdb.Close(); direct.Close() })
	return idemredis.New(rdb, idemredis.WithPrefix(prefix)), rdb, direct, proxy
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
	st, rdb, direct, proxy := resendingStore(t, "fault:")
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
	// runStalledAtEnd runs every key's handler, and once all of them are
	// running (their Begins answered) stalls Redis's replies, so that what
	// the handlers' ends send (Complete, Release) is resent. Each handler
	// then returns result(i).
	runStalledAtEnd := func(ks []*key, result func(i int) ([]byte, error)) []error {
		var started sync.WaitGroup
		started.Add(len(ks))
		release := make(chan struct{})
		go func() {
			started.Wait()
			resetStats()
			proxy.Stall(coretest.Downstream, stallWindow, stallHold)
			close(release)
		}()
		return runAll(ks, nil, func(i int) ([]byte, error) {
			started.Done()
			<-release
			return result(i)
		})
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
		errs := runStalledAtEnd(ks, func(i int) ([]byte, error) { return []byte(ks[i].name), nil })
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
		fail := errors.New("handler failed")
		errs := runStalledAtEnd(ks, func(int) ([]byte, error) { return nil, fail })
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
			if errs[i] != nil || res[i].Outcome != core.OutcomeOriginal {
				t.Errorf("%s: Begin = %v, %v; want claimed", ks[i].name, res[i].Outcome, errs[i])
			}
		}
		if c := evalshaCalls(t, direct); c != 2*n {
			t.Errorf("Redis ran %d scripts, want %d (each Begin twice)", c, 2*n)
		}
	})
}

// scriptCounter counts the single script calls and the pipelines of
// script calls a client sends (not the handshake of a new connection).
type scriptCounter struct{ cmds, pipes atomic.Int64 }

func isScript(cmd redis.Cmder) bool {
	n := cmd.Name()
	return n == "evalsha" || n == "eval"
}

func (c *scriptCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *scriptCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			c.cmds.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (c *scriptCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && isScript(cmds[0]) {
			c.pipes.Add(1)
		}
		return next(ctx, cmds)
	}
}

// TestFaultRenewalAtScale keeps 1,000 claims with a 600 ms lease alive
// through RenewBatch every 200 ms for 2 s, with 100 ms of added Redis
// latency and the request client's pool saturated by 200 requests in
// flight. The renewals go through their own client (WithRenewClient): one
// pipeline per pass. Renewed one by one, a pass would take 1,000 × 100 ms
// = 100 s and every lease but the first few would be lost; queued on the
// request pool (20 connections, 200 requests at 100 ms), each pass waits
// about a second for a connection, past the lease.
//
// A pass has 300 ms of slack. When the machine itself stalls longer (a
// direct PING to Redis, or this process's own timer, late by more than
// 150 ms: an overloaded CI host), a failed run proves nothing about the
// store, and the scenario runs once more.
func TestFaultRenewalAtScale(t *testing.T) {
	redistest.Require(t)
	addr := redistest.Server(t)
	for attempt := 1; ; attempt++ {
		problems, stall := renewalAtScale(t, addr, fmt.Sprintf("scale%d:", attempt))
		if len(problems) == 0 {
			return
		}
		if attempt == 1 && stall > 150*time.Millisecond {
			t.Logf("the machine stalled for %v; running again. First run: %v", stall, problems)
			continue
		}
		for _, p := range problems {
			t.Error(p)
		}
		t.Fatalf("longest stall of the machine seen: %v", stall)
	}
}

// renewalAtScale runs TestFaultRenewalAtScale's scenario once and returns
// what went wrong, and the longest stall of the machine it saw.
func renewalAtScale(t *testing.T, addr, prefix string) (problems []string, stall time.Duration) {
	var mu sync.Mutex
	problem := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	proxy := coretest.NewFaultProxy(t, addr)
	defer proxy.Close()
	opts := func(addr string, pool int) *redis.Options {
		return &redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: pool,
			ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: 1}
	}
	direct := redis.NewClient(opts(addr, 16))
	requests := redis.NewClient(opts(proxy.Addr(), 20))
	renewals := redis.NewClient(opts(proxy.Addr(), 2))
	defer func() { direct.Close(); requests.Close(); renewals.Close() }()
	var rt scriptCounter
	renewals.AddHook(&rt)
	st := idemredis.New(requests, idemredis.WithPrefix(prefix), idemredis.WithRenewClient(renewals))
	checker := idemredis.New(direct, idemredis.WithPrefix(prefix)) // the other instances' view
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
				res, err := checker.Begin(ctx, k, core.Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: 10 * time.Second, TTL: time.Minute})
				if err != nil || res.Outcome != core.OutcomeOriginal {
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
	// However long claiming took, every lease now ends 600 ms from here
	// (a renewal sets the lease end, shorter or longer).
	checker.RenewBatch(ctx, lease, rs)
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("first renewal of %s: %v", r.Key, r.Err)
		}
	}

	// From now on every byte through the proxy is 100 ms late, and 200
	// requests keep the request client's 20 connections busy.
	proxy.SetLatency(coretest.Downstream, 100*time.Millisecond)
	stop := make(chan struct{})
	var bg sync.WaitGroup
	defer func() { close(stop); bg.Wait() }()
	for i := 0; i < 200; i++ {
		bg.Add(1)
		go func() {
			defer bg.Done()
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
	// The machine's stalls: a direct PING's round trip, a timer's delay.
	var maxStall atomic.Int64
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			t0 := time.Now()
			_ = direct.Ping(ctx).Err()
			if d := int64(time.Since(t0)); d > maxStall.Load() {
				maxStall.Store(d)
			}
		}
	}()
	defer func() { stall = time.Duration(maxStall.Load()) }()

	// Another instance tries the keys with a Begin of its own: every one
	// must be in flight, never claimable (a claim whose lease ran out
	// would be taken over here, and its next renewal would report the
	// lease lost). check tries the claims rs[i] for i in idx.
	check := func(idx []int) error {
		var bad atomic.Int32
		var first atomic.Value
		var cw sync.WaitGroup
		for w := 0; w < 8; w++ {
			cw.Add(1)
			go func() {
				defer cw.Done()
				for j := w; j < len(idx); j += 8 {
					k := rs[idx[j]].Key
					res, err := checker.Begin(ctx, k, core.Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: lease, TTL: time.Minute})
					if err != nil || res.Outcome != core.OutcomeConflict {
						if bad.Add(1) == 1 {
							first.Store(fmt.Sprintf("%s: %v %v", k, res.Outcome, err))
						}
					}
				}
			}()
		}
		cw.Wait()
		if n := bad.Load(); n > 0 {
			return fmt.Errorf("%d of %d claims not in flight for another instance (first: %v)", n, len(idx), first.Load())
		}
		return nil
	}

	// Renewal passes every 200 ms until stopped. A pass may take up to
	// lease-every: started on time, it still lands before the leases it
	// extends run out.
	rt.cmds.Store(0)
	rt.pipes.Store(0)
	var passes, failedPasses int
	var slowest time.Duration
	stopRenew, renewDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(renewDone)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			pctx, cancel := context.WithTimeout(ctx, lease-every)
			t0 := time.Now()
			st.RenewBatch(pctx, lease, rs)
			slowest = max(slowest, time.Since(t0))
			cancel()
			passes++
			var storeErr error
			for _, r := range rs {
				if errors.Is(r.Err, core.ErrLeaseLost) {
					problem("pass %d: renewal of %s: %v", passes, r.Key, r.Err)
					return
				}
				if r.Err != nil && storeErr == nil {
					storeErr = r.Err
				}
			}
			if storeErr != nil {
				failedPasses++
				t.Logf("pass %d failed: %v", passes, storeErr)
			}
			select {
			case <-stopRenew:
				return
			case <-tick.C:
			}
		}
	}()

	// While the passes run: samples of 100 claims every 250 ms, then
	// every claim, after more than three leases.
	start := time.Now()
	for time.Since(start) < span {
		time.Sleep(250 * time.Millisecond)
		if err := check(rand.Perm(claims)[:100]); err != nil {
			problem("at %v: %v", time.Since(start).Round(time.Millisecond), err)
			break
		}
	}
	if err := check(allIndexes(claims)); err != nil {
		problem("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	close(stopRenew)
	<-renewDone
	// A pass that timed out is retried by the next one, as the Engine
	// does; had the leases lapsed, the checks above would have failed.
	if failedPasses > passes/4 {
		problem("%d of %d passes failed", failedPasses, passes)
	}
	if p, c := rt.pipes.Load(), rt.cmds.Load(); p != int64(passes) || c != 0 {
		problem("%d passes sent %d pipelines and %d single scripts, want one pipeline per pass", passes, p, c)
	}
	t.Logf("%d passes of %d renewals, slowest %v", passes, claims, slowest)
	return problems, 0
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// TestFaultResentStates stalls Redis's replies past the client's read
// timeout while it commits claims, writes tombstones and uncertain
// records, and strands dead owners' claims: go-redis sends each command
// again, Redis runs it twice, and every resend must give the first run's
// answer. Without it a resent Commit would report the lease lost (the
// handler would abandon its effects), and a resent stranding Begin would
// say nothing, so that no OPERATION_UNCERTAIN would ever be reported.
func TestFaultResentStates(t *testing.T) {
	st, rdb, direct, proxy := resendingStore(t, "faultstates:")
	setup := idemredis.New(direct, idemredis.WithPrefix("faultstates:"))
	ctx := context.Background()
	if err := st.LoadScripts(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 20
	// stalled runs op(i) for every i at once with Redis's replies stalled,
	// and checks that each ran twice.
	stalled := func(t *testing.T, op func(i int) error) []error {
		t.Helper()
		warmPool(t, rdb, 2*n+8)
		if err := direct.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		proxy.Stall(coretest.Downstream, 120*time.Millisecond, 300*time.Millisecond)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = op(i) }()
		}
		wg.Wait()
		if c := evalshaCalls(t, direct); c != 2*n {
			t.Errorf("Redis ran %d scripts, want %d (each command twice)", c, 2*n)
		}
		return errs
	}
	claims := func(prefix string, lease time.Duration) ([]string, []uint64) {
		ks, toks := make([]string, n), make([]uint64, n)
		for i := range ks {
			ks[i] = fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), i)
			res, err := setup.Begin(ctx, ks[i], core.Attempt{Fingerprint: core.Fingerprint{7}, Nonce: rand.Uint64() | 1, Lease: lease, TTL: time.Minute})
			if err != nil || res.Outcome != core.OutcomeOriginal {
				t.Fatal(res, err)
			}
			toks[i] = res.Token
		}
		return ks, toks
	}

	t.Run("Commit", func(t *testing.T) {
		ks, toks := claims("commit", time.Minute)
		for i, err := range stalled(t, func(i int) error { return st.Commit(ctx, ks[i], toks[i], nil) }) {
			if err != nil {
				t.Errorf("%s: resent Commit = %v", ks[i], err)
			}
		}
	})

	for _, state := range []core.State{core.StateTombstone, core.StateUncertain} {
		t.Run(state.String(), func(t *testing.T) {
			ks, toks := claims(state.String(), time.Minute)
			errs := stalled(t, func(i int) error {
				return st.Complete(ctx, ks[i], toks[i], state, []byte("reason"), time.Minute)
			})
			for i, err := range errs {
				if err != nil {
					t.Errorf("%s: resent Complete = %v", ks[i], err)
				}
				if rec, err := setup.Get(ctx, ks[i]); err != nil || rec.State != state || string(rec.Payload) != "reason" {
					t.Errorf("%s: record %+v, %v", ks[i], rec, err)
				}
			}
		})
	}

	t.Run("Stranded", func(t *testing.T) {
		ks, toks := claims("stranded", 20*time.Millisecond)
		for i, k := range ks {
			if err := setup.Commit(ctx, k, toks[i], nil); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
		res := make([]core.BeginResult, n)
		errs := stalled(t, func(i int) (err error) {
			res[i], err = st.Begin(ctx, ks[i], core.Attempt{Fingerprint: core.Fingerprint{7}, Nonce: rand.Uint64() | 1, Lease: time.Minute, TTL: time.Minute})
			return err
		})
		for i, err := range errs {
			if err != nil || res[i].Outcome != core.OutcomeUncertain || !res[i].Stranded {
				t.Errorf("%s: resent stranding Begin = %v stranded=%v, %v; want uncertain, stranded", ks[i], res[i].Outcome, res[i].Stranded, err)
			}
		}
	})
}
