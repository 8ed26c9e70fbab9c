package faults

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/examples/internal/servertest"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// keySet is the keys traffic picks from: mostly the newest batch, so
// that each phase of a scenario claims keys of its own, and sometimes an
// older one, to be replayed.
type keySet struct {
	mu       sync.Mutex
	all, cur []string
}

// batch adds n fresh keys of l and makes them the current batch.
func (ks *keySet) batch(l *ledger, n int) {
	b := make([]string, n)
	for i := range b {
		b[i] = l.newKey()
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.cur = b
	ks.all = append(ks.all, b...)
}

func (ks *keySet) pick() string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if rand.IntN(4) == 0 {
		return ks.all[rand.IntN(len(ks.all))]
	}
	return ks.cur[rand.IntN(len(ks.cur))]
}

func (ks *keySet) keys() []string {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return append([]string(nil), ks.all...)
}

// traffic runs workers that each, until ctx ends, pick a key of ks and
// send it to every server at once, burst requests in all (concurrent
// duplicates across the instances), then pause for gap.
func traffic(ctx context.Context, l *ledger, c *http.Client, path string, ks *keySet, servers []*servertest.Server, workers, burst int, gap time.Duration) (wait func()) {
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				key := ks.pick()
				var bw sync.WaitGroup
				for i := range burst {
					srv := servers[i%len(servers)]
					bw.Go(func() { l.pay(context.WithoutCancel(ctx), c, srv, path, key) })
				}
				bw.Wait()
				select {
				case <-ctx.Done():
				case <-time.After(gap):
				}
			}
		})
	}
	return wg.Wait
}

// TestRedisNetworkFaults: two instances (Gin and Echo) share a Redis
// they reach through a TCP proxy that first adds latency, then stalls
// Redis's replies past the engine's store timeout (2s), then resets
// every connection again and again, while concurrent duplicates of a set
// of keys go to both instances. Every answer is 201 (Original once per
// key, then Repeated with the Original's bytes), 409 (a duplicate
// waiting past the lock wait, or a claim whose Begin reply was lost),
// or 503 (the store failed, or the handler could not declare its effects
// and charged nothing). After the faults, every key settles to a 201,
// and the handler ran exactly as often as the clients were told.
func TestRedisNetworkFaults(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	proxy := coretest.NewFaultProxy(t, rds.Addr)
	// The lease outlasts every stall, so a running handler keeps its
	// claim (and its completion, retried in the background, lands).
	args := []string{"-redis", "redis://" + proxy.Addr() + "/0", "-lease", "6s", "-lock-wait", "200ms"}
	servers := []*servertest.Server{servertest.Start(t, "gin", args...), servertest.Start(t, "echo", args...)}
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	l := newLedger()
	ks := &keySet{}
	ks.batch(l, 6)
	const path = "/payments?delay=50ms"
	tctx, stop := context.WithCancel(ctx)
	wait := traffic(tctx, l, c, path, ks, servers, 4, 3, 20*time.Millisecond)

	// Each phase brings keys of its own, first claimed under its fault.
	phase := func(name string, d time.Duration) {
		ks.batch(l, 6)
		t.Logf("%s for %v (%d requests so far)", name, d, len(l.outcomes()))
		time.Sleep(d)
	}
	time.Sleep(500 * time.Millisecond) // clean
	proxy.SetLatency(coretest.Upstream, 20*time.Millisecond)
	proxy.SetLatency(coretest.Downstream, 20*time.Millisecond)
	phase("latency 20ms each way", 1500*time.Millisecond)
	proxy.SetLatency(coretest.Upstream, 0)
	proxy.SetLatency(coretest.Downstream, 0)
	proxy.Stall(coretest.Downstream, time.Second, 2500*time.Millisecond)
	phase("replies stalled 2.5s", 3*time.Second)
	for range 6 {
		n := proxy.Reset()
		phase("connections reset ("+itoa(n)+")", 250*time.Millisecond)
	}
	stop()
	wait()
	t.Logf("faults over: %d requests, %d chunks stalled, %d connections accepted", len(l.outcomes()), proxy.Stalled(coretest.Downstream), proxy.Accepted())

	// Every key settles: a claim whose Begin reply was lost blocks its
	// key until its lease (6s) ends, then the next request runs it.
	keys := ks.keys()
	var sw sync.WaitGroup
	for _, k := range keys {
		sw.Go(func() { l.settle(ctx, t, c, path, k, 15*time.Second, false, servers...) })
	}
	sw.Wait()
	for _, k := range keys { // and stays settled, on both
		for _, s := range servers {
			l.pay(ctx, c, s, path, k)
		}
	}

	tl := l.check(t, "201 Original", "201 Repeated", "409 request-in-flight", "503 store-unavailable", "503 not-charged")
	t.Logf("%d requests: %v", len(l.outcomes()), tl)
	if got := len(tl.original); got != len(keys) {
		t.Errorf("%d keys ran, want every one of the %d", got, len(keys))
	}
	account(t, tl, executions(t, servers...))
	if tl.status["503 store-unavailable"] == 0 {
		t.Errorf("no request was refused with 503: the faults did not reach the store")
	}
	for _, s := range servers {
		if s.Exited() {
			t.Errorf("%s exited: %v\n%s", s.Name, s.Err(), s.Log)
		}
	}
}

func itoa(n int) string { return string(rune('0'+n/10%10)) + string(rune('0'+n%10)) }

// TestRedisRestart: Redis (no persistence) is killed while two
// instances (Fiber and Gin) serve concurrent duplicates, and restarted
// empty. What holds, exactly:
//
//   - before the kill, and again after the restart, each key runs at
//     most once per Redis life, and every replay is that life's Original;
//   - every request sent during the outage gets 503 store-unavailable
//     and runs nothing;
//   - after the restart, a key completed before the kill runs exactly
//     once more: Redis without persistence forgot it (the README's "a
//     store that forgets"), then replays that second run.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	args := []string{"-redis", "redis://" + rds.Addr + "/0", "-lease", "3s", "-lock-wait", "200ms"}
	servers := []*servertest.Server{servertest.Start(t, "fiber", args...), servertest.Start(t, "gin", args...)}
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var killed, restarted time.Time // set while no request is recorded
	var mu sync.Mutex
	l := newLedger()
	l.epoch = func(sent, _ time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case killed.IsZero() || sent.Before(killed):
			return 0
		case restarted.IsZero() || sent.Before(restarted.Add(-reachBack)):
			// A request sent shortly before the restart may still be
			// trying (go-redis redials within the store timeout) and
			// claim in the new Redis: it belongs to the second life.
			return outage
		default:
			return 1
		}
	}
	ks := &keySet{}
	ks.batch(l, 8)
	const path = "/payments?delay=50ms"

	tctx, stop := context.WithCancel(ctx)
	wait := traffic(tctx, l, c, path, ks, servers, 4, 3, 20*time.Millisecond)
	time.Sleep(700 * time.Millisecond)
	ks.batch(l, 8) // claimed just before the kill
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	killed = time.Now()
	rds.Stop()
	mu.Unlock()
	// Handlers caught by the kill end within their 50ms delay plus a
	// store timeout; from then on nothing may run.
	time.Sleep(2500 * time.Millisecond)
	before := executions(t, servers...)
	time.Sleep(reachBack)
	if after := executions(t, servers...); after != before {
		t.Errorf("the handler ran %d times while Redis was down", after-before)
	}
	ks.batch(l, 4) // tried during the outage, first run after it
	time.Sleep(500 * time.Millisecond)
	mu.Lock()
	rds.Restart(t)
	restarted = time.Now()
	mu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	stop()
	wait()

	// Every key runs once in Redis's second life, whatever the first
	// one did (claims of the first life went with it).
	keys := ks.keys()
	for _, k := range keys {
		if o := l.settle(ctx, t, c, path, k, 10*time.Second, false, servers...); o.epoch != 1 {
			t.Fatalf("settled before the restart?")
		}
	}
	for _, k := range keys {
		for _, s := range servers {
			l.pay(ctx, c, s, path, k)
		}
	}

	tl := l.check(t, "201 Original", "201 Repeated", "409 request-in-flight", "503 store-unavailable", "503 not-charged")
	t.Logf("%d requests: %v", len(l.outcomes()), tl)
	for _, o := range l.outcomes() {
		if o.epoch == outage && (o.err != nil || replyLabel(o.r) != "503 store-unavailable") {
			t.Errorf("sent during the outage: %v, %v; want 503 store-unavailable", o.r, o.err)
		}
	}
	var ranTwice int
	for _, k := range keys {
		byEpoch := tl.original[k]
		if _, ok := byEpoch[1]; !ok {
			t.Errorf("key %s did not run after the restart", k)
		}
		if _, ok := byEpoch[0]; ok {
			ranTwice++
		}
	}
	t.Logf("%d of %d keys completed before the kill ran once more after the restart (Redis forgot them)", ranTwice, len(keys))
	if ranTwice < 8 {
		t.Errorf("no key completed before the kill: the scenario did not test the restart")
	}
	account(t, tl, executions(t, servers...))
}

// outage is the epoch of a request sent while Redis was down, at least
// reachBack before it came back: longer than the engine's store timeout
// (core.DefaultStoreTimeout, 2s), the longest a request keeps trying.
const (
	outage    = 2
	reachBack = 3 * time.Second
)
