package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// TestTwoInstancesShareRedis: two server processes on one Redis are one
// idempotent service. 500 identical requests with one key, alternating
// between the instances while the first one runs (delay=300ms), make the
// handler run exactly once across both.
func TestTwoInstancesShareRedis(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t) // fails in CI without redis-server, skips elsewhere
	url := "redis://" + rds.Addr + "/0"
	servers := []*server{startServer(t, "gin", "-redis", url), startServer(t, "gin", "-redis", url)}

	const n = 500
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n},
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	key := newKey()
	replies := make([]reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = pay(ctx, client, servers[i%2].base, "/payments?delay=300ms", key)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	var originals, repeated, conflicts int
	var first reply
	for i, r := range replies {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case r.status == http.StatusCreated && r.idem() == "Original":
			originals++
			first = r
		case r.status == http.StatusCreated && r.idem() == "Repeated":
			repeated++
		case r.status == http.StatusConflict && r.header.Get("Retry-After") != "":
			conflicts++
		default:
			t.Errorf("request %d (server %d): unexpected %v", i, i%2, r)
		}
	}
	t.Logf("%d requests in %v: %d Original, %d Repeated, %d 409", n, took, originals, repeated, conflicts)
	if originals != 1 {
		t.Fatalf("%d Original responses, want exactly 1", originals)
	}
	for i, r := range replies {
		if errs[i] == nil && r.idem() == "Repeated" && r.body != first.body {
			t.Errorf("request %d replayed %s, the original answered %s", i, r.body, first.body)
			break
		}
	}
	a, b := servers[0].mustStats(t), servers[1].mustStats(t)
	if sum := a.Payments + b.Payments; sum != 1 {
		t.Errorf("the payment handler ran %d times (%d + %d), want exactly 1", sum, a.Payments, b.Payments)
	}
}

// TestRedisOutage: while Redis is down, requests with new keys are
// refused with 503 (fail closed) and no handler runs; when Redis is back,
// the same server processes serve again within seconds.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	srv := startServer(t, "gin", "-redis", "redis://"+rds.Addr+"/0")
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// Background traffic: one payment with a new key every 20ms.
	type event struct {
		at     time.Time
		status int
		idem   string
	}
	var (
		mu      sync.Mutex
		traffic []event
	)
	seen := func(since time.Time, status int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range traffic {
			if !e.at.Before(since) && e.status == status {
				return true
			}
		}
		return false
	}
	tctx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for tctx.Err() == nil {
			r, err := pay(tctx, client, srv.base, "/payments", newKey())
			if err == nil {
				mu.Lock()
				traffic = append(traffic, event{time.Now(), r.status, r.idem()})
				mu.Unlock()
			}
			select {
			case <-tctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	defer func() { stopTraffic(); wg.Wait() }()

	waitFor := func(what string, limit time.Duration, ok func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !ok() {
			if time.Since(start) > limit {
				t.Fatalf("%s: not within %v\n%s", what, limit, srv.log)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	begin := time.Now()
	waitFor("traffic served on Redis", 10*time.Second, func() bool { return seen(begin, http.StatusCreated) })

	// Outage.
	rds.Stop()
	down := time.Now()
	d := waitFor("traffic refused with 503", 15*time.Second, func() bool { return seen(down, http.StatusServiceUnavailable) })
	t.Logf("first 503 %v after Redis stopped", d.Round(time.Millisecond))
	before := srv.mustStats(t)
	for i := range 5 {
		start := time.Now()
		r, err := pay(ctx, client, srv.base, "/payments", newKey())
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" ||
			!strings.HasPrefix(r.header.Get("Content-Type"), "application/problem+json") ||
			!strings.Contains(r.body, "store-unavailable") || r.idem() != "" {
			t.Errorf("request %d during the outage: %v (Content-Type %q)", i, r, r.header.Get("Content-Type"))
		}
		if i == 0 {
			t.Logf("503 during the outage in %v: %s", time.Since(start).Round(time.Millisecond), r.body)
		}
	}
	if after := srv.mustStats(t); after != before {
		t.Errorf("handlers ran during the outage: stats %+v, then %+v", before, after)
	}

	// Recovery, without restarting the server.
	rds.Restart(t)
	up := time.Now()
	d = waitFor("a new payment succeeds after Redis restarted", 10*time.Second, func() bool {
		r, err := pay(ctx, client, srv.base, "/payments", newKey())
		return err == nil && r.status == http.StatusCreated && r.idem() == "Original"
	})
	t.Logf("serving again %v after Redis restarted", d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Errorf("recovery took %v, want a few seconds", d)
	}
	waitFor("background traffic served again", 10*time.Second, func() bool { return seen(up, http.StatusCreated) })
	select {
	case <-srv.done:
		t.Fatalf("the server exited: %v", srv.err)
	default:
	}
}

// TestMetricsAndShutdown runs each example server on the in-memory store:
// after a first payment and its replay, GET /metrics counts one original
// and one repeated request (one cache miss, one hit); SIGTERM stops the
// server with status 0.
func TestMetricsAndShutdown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gin", "echo", "fiber"} {
		t.Run(name, func(t *testing.T) {
			srv := startServer(t, name)
			client := &http.Client{Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			key := newKey()
			for i, want := range []string{"Original", "Repeated"} {
				r, err := pay(context.Background(), client, srv.base, "/payments", key)
				if err != nil {
					t.Fatal(err)
				}
				if r.status != http.StatusCreated || r.idem() != want {
					t.Fatalf("payment %d: %v, want 201 %s", i, r, want)
				}
			}
			resp, err := client.Get(srv.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
			}
			for _, want := range []string{
				`idempotency_requests_total{method="POST",outcome="original",route="/payments"} 1`,
				`idempotency_requests_total{method="POST",outcome="repeated",route="/payments"} 1`,
				`idempotency_cache_total{result="hit"} 1`,
				`idempotency_cache_total{result="miss"} 1`,
				`go_goroutines `,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("GET /metrics lacks %s", want)
				}
			}
			if err := srv.stop(t); err != nil {
				t.Errorf("exit after SIGTERM: %v (status %d)\n%s", err, exitCode(err), srv.log)
			}
			if !strings.Contains(srv.log.String(), "msg=stopped") {
				t.Errorf("no clean shutdown in the log:\n%s", srv.log)
			}
		})
	}
}

// TestRedisUnreachableAtStartup: a server told to use a Redis that does
// not answer exits with status 1 and says why, instead of serving
// without shared idempotency.
func TestRedisUnreachableAtStartup(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary(t, "gin"), "-addr", "127.0.0.1:0", "-redis", "redis://127.0.0.1:1/0")
	cmd.Env = append(os.Environ(), "REDIS_URL=")
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Errorf("exit status %d, want 1\n%s", code, out)
	}
	if !strings.Contains(string(out), "redis unreachable at redis://127.0.0.1:1/0") {
		t.Errorf("output:\n%s", out)
	}
}

// TestLeaseAndLockWaitFlags: each server started with -lease 1s
// -lock-wait 100ms uses them. A duplicate of a payment that runs for
// 500ms gets 409 Conflict while the original still runs (the default
// lock wait, 5s, would have it wait and replay), and the handler runs
// once.
func TestLeaseAndLockWaitFlags(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gin", "echo", "fiber"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, name, "-lease", "1s", "-lock-wait", "100ms")
			original, dup := duplicateWhileRunning(t, srv)
			if dup.status != http.StatusConflict || dup.header.Get("Retry-After") == "" || !strings.Contains(dup.body, "request-in-flight") {
				t.Errorf("duplicate: %v, want 409 with Retry-After", dup)
			}
			if original.status != http.StatusCreated || original.idem() != "Original" {
				t.Errorf("original: %v", original)
			}
			if n := srv.mustStats(t).Payments; n != 1 {
				t.Errorf("the payment handler ran %d times, want 1", n)
			}
		})
	}
	// The control: without the flags, the duplicate waits for the
	// original and replays it.
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		srv := startServer(t, "gin")
		original, dup := duplicateWhileRunning(t, srv)
		if dup.status != http.StatusCreated || dup.idem() != "Repeated" || dup.body != original.body {
			t.Errorf("duplicate: %v, want the original's 201 replayed: %v", dup, original)
		}
	})
}

// duplicateWhileRunning sends POST /payments?delay=500ms to srv and,
// once its handler runs, the same request again. It returns both
// replies, failing the test unless the duplicate's came first.
func duplicateWhileRunning(t *testing.T, srv *server) (original, dup reply) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	key := newKey()
	type result struct {
		r   reply
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := pay(context.Background(), client, srv.base, "/payments?delay=500ms", key)
		first <- result{r, err}
	}()
	waitRunning(t, srv, 1)
	dup, err := pay(context.Background(), client, srv.base, "/payments?delay=500ms", key)
	if err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-first:
		if dup.status == http.StatusConflict {
			t.Errorf("the 409 came after the original had completed: the duplicate waited for it")
		}
	default:
		res = <-first
	}
	if res.err != nil {
		t.Fatal(res.err)
	}
	return res.r, dup
}

// waitRunning waits until srv's payment handler has started n times.
func waitRunning(t *testing.T, srv *server, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.mustStats(t).Payments < n {
		if time.Now().After(deadline) {
			t.Fatalf("the payment handler did not start:\n%s", srv.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaseTakeover: -lease sets how long a crashed instance's claim
// blocks its key. Two instances on one Redis run with -lease 1s; while
// the first runs a long payment its claim outlives the 1s lease (it is
// renewed), and once it is killed the second takes the key over within
// about a lease, instead of answering 409 for the default 30s.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	args := []string{"-redis", "redis://" + rds.Addr + "/0", "-lease", "1s", "-lock-wait", "100ms"}
	a, b := startServer(t, "gin", args...), startServer(t, "gin", args...)
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	key := newKey()

	// One request, so one fingerprint: it runs for 5s. The delay comes
	// before the payment declares its effects, so the dead owner's claim
	// is not committed and may be taken over (TestOwnerKilledAfterEffects
	// kills one that is).
	const path = "/payments?delay=5s"
	go func() { _, _ = pay(context.Background(), client, a.base, path, key) }() // dies with a
	waitRunning(t, a, 1)
	time.Sleep(1500 * time.Millisecond) // longer than the lease
	if r, err := pay(context.Background(), client, b.base, path, key); err != nil || r.status != http.StatusConflict {
		t.Fatalf("while the first instance runs the payment past its lease: %v, %v; want 409", r, err)
	}

	if err := a.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killed := time.Now()
	var (
		r    reply
		sent time.Time
	)
	for {
		var err error
		sent = time.Now()
		r, err = pay(context.Background(), client, b.base, path, key)
		if err != nil {
			t.Fatal(err)
		}
		if r.status != http.StatusConflict {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("still 409 %v after the owner was killed, with -lease 1s", time.Since(killed).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("taken over by a request sent %v after the owner was killed", sent.Sub(killed).Round(time.Millisecond))
	if r.status != http.StatusCreated || r.idem() != "Original" {
		t.Errorf("takeover: %v, want 201 Original", r)
	}
	if n := b.mustStats(t).Payments; n != 1 {
		t.Errorf("the second instance ran the payment %d times, want 1", n)
	}
	if r, err := pay(context.Background(), client, b.base, path, key); err != nil || r.idem() != "Repeated" {
		t.Errorf("retry after the takeover: %v, %v; want a replay", r, err)
	}
}
