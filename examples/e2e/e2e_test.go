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

	"github.com/idemkit/idempotency/examples/internal/servertest"
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
	servers := []*servertest.Server{servertest.Start(t, "gin", "-redis", url), servertest.Start(t, "gin", "-redis", url)}

	const n = 500
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n},
	}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	key := servertest.NewKey()
	replies := make([]servertest.Reply, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = servertest.Pay(ctx, client, servers[i%2].Base, "/payments?delay=300ms", key)
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	took := time.Since(began)

	var originals, repeated, conflicts int
	var first servertest.Reply
	for i, r := range replies {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case r.Status == http.StatusCreated && r.Idem() == "Original":
			originals++
			first = r
		case r.Status == http.StatusCreated && r.Idem() == "Repeated":
			repeated++
		case r.Status == http.StatusConflict && r.Header.Get("Retry-After") != "":
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
		if errs[i] == nil && r.Idem() == "Repeated" && r.Body != first.Body {
			t.Errorf("request %d replayed %s, the original answered %s", i, r.Body, first.Body)
			break
		}
	}
	a, b := servers[0].MustStats(t), servers[1].MustStats(t)
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
	srv := servertest.Start(t, "gin", "-redis", "redis://"+rds.Addr+"/0")
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
			r, err := servertest.Pay(tctx, client, srv.Base, "/payments", servertest.NewKey())
			if err == nil {
				mu.Lock()
				traffic = append(traffic, event{time.Now(), r.Status, r.Idem()})
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
				t.Fatalf("%s: not within %v\n%s", what, limit, srv.Log)
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
	before := srv.MustStats(t)
	for i := range 5 {
		start := time.Now()
		r, err := servertest.Pay(ctx, client, srv.Base, "/payments", servertest.NewKey())
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") ||
			!strings.Contains(r.Body, "store-unavailable") || r.Idem() != "" {
			t.Errorf("request %d during the outage: %v (Content-Type %q)", i, r, r.Header.Get("Content-Type"))
		}
		if i == 0 {
			t.Logf("503 during the outage in %v: %s", time.Since(start).Round(time.Millisecond), r.Body)
		}
	}
	if after := srv.MustStats(t); after != before {
		t.Errorf("handlers ran during the outage: stats %+v, then %+v", before, after)
	}

	// Recovery, without restarting the server.
	rds.Restart(t)
	up := time.Now()
	d = waitFor("a new payment succeeds after Redis restarted", 10*time.Second, func() bool {
		r, err := servertest.Pay(ctx, client, srv.Base, "/payments", servertest.NewKey())
		return err == nil && r.Status == http.StatusCreated && r.Idem() == "Original"
	})
	t.Logf("serving again %v after Redis restarted", d.Round(time.Millisecond))
	if d > 5*time.Second {
		t.Errorf("recovery took %v, want a few seconds", d)
	}
	waitFor("background traffic served again", 10*time.Second, func() bool { return seen(up, http.StatusCreated) })
	select {
	case <-srv.Done():
		t.Fatalf("the server exited: %v", srv.Err())
	default:
	}
}

// TestMetricsAndShutdown runs each example server on the in-memory store:
// after a first payment and its replay, GET /metrics counts one original
// and one repeated request (one cache miss, one hit); SIGTERM stops the
// server with status 0.
func TestMetricsAndShutdown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"gin", "echo", "echov5", "fiber", "nethttp"} {
		t.Run(name, func(t *testing.T) {
			srv := servertest.Start(t, name)
			client := &http.Client{Timeout: 5 * time.Second}
			defer client.CloseIdleConnections()
			key := servertest.NewKey()
			for i, want := range []string{"Original", "Repeated"} {
				r, err := servertest.Pay(context.Background(), client, srv.Base, "/payments", key)
				if err != nil {
					t.Fatal(err)
				}
				if r.Status != http.StatusCreated || r.Idem() != want {
					t.Fatalf("payment %d: %v, want 201 %s", i, r, want)
				}
			}
			resp, err := client.Get(srv.Base + "/metrics")
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
			if err := srv.Stop(t); err != nil {
				t.Errorf("exit after SIGTERM: %v (status %d)\n%s", err, servertest.ExitCode(err), srv.Log)
			}
			if !strings.Contains(srv.Log.String(), "msg=stopped") {
				t.Errorf("no clean shutdown in the log:\n%s", srv.Log)
			}
		})
	}
}

// TestRedisUnreachableAtStartup: a server told to use a Redis that does
// not answer exits with status 1 and says why, instead of serving
// without shared idempotency.
func TestRedisUnreachableAtStartup(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(servertest.Binary(t, "gin"), "-addr", "127.0.0.1:0", "-redis", "redis://127.0.0.1:1/0")
	cmd.Env = append(os.Environ(), "REDIS_URL=", "DATABASE_URL=")
	out, err := cmd.CombinedOutput()
	if code := servertest.ExitCode(err); code != 1 {
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
	for _, name := range []string{"gin", "echo", "fiber", "nethttp"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := servertest.Start(t, name, "-lease", "1s", "-lock-wait", "100ms")
			original, dup := duplicateWhileRunning(t, srv)
			if dup.Status != http.StatusConflict || dup.Header.Get("Retry-After") == "" || !strings.Contains(dup.Body, "request-in-flight") {
				t.Errorf("duplicate: %v, want 409 with Retry-After", dup)
			}
			if original.Status != http.StatusCreated || original.Idem() != "Original" {
				t.Errorf("original: %v", original)
			}
			if n := srv.MustStats(t).Payments; n != 1 {
				t.Errorf("the payment handler ran %d times, want 1", n)
			}
		})
	}
	// The control: without the flags, the duplicate waits for the
	// original and replays it.
	t.Run("default", func(t *testing.T) {
		t.Parallel()
		srv := servertest.Start(t, "gin")
		original, dup := duplicateWhileRunning(t, srv)
		if dup.Status != http.StatusCreated || dup.Idem() != "Repeated" || dup.Body != original.Body {
			t.Errorf("duplicate: %v, want the original's 201 replayed: %v", dup, original)
		}
	})
}

// duplicateWhileRunning sends POST /payments?delay=500ms to srv and,
// once its handler runs, the same request again. It returns both
// replies, failing the test unless the duplicate's came first.
func duplicateWhileRunning(t *testing.T, srv *servertest.Server) (original, dup servertest.Reply) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	key := servertest.NewKey()
	type result struct {
		r   servertest.Reply
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := servertest.Pay(context.Background(), client, srv.Base, "/payments?delay=500ms", key)
		first <- result{r, err}
	}()
	srv.WaitRunning(t, 1)
	dup, err := servertest.Pay(context.Background(), client, srv.Base, "/payments?delay=500ms", key)
	if err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-first:
		if dup.Status == http.StatusConflict {
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

// TestLeaseTakeover: -lease sets how long a crashed instance's claim
// blocks its key. Two instances on one Redis run with -lease 1s; while
// the first runs a long payment its claim outlives the 1s lease (it is
// renewed), and once it is killed the second takes the key over within
// about a lease, instead of answering 409 for the default 30s.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	args := []string{"-redis", "redis://" + rds.Addr + "/0", "-lease", "1s", "-lock-wait", "100ms"}
	a, b := servertest.Start(t, "gin", args...), servertest.Start(t, "gin", args...)
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	key := servertest.NewKey()

	// One request, so one fingerprint: it runs for 5s. The delay comes
	// before the payment declares its effects, so the dead owner's claim
	// is not committed and may be taken over (TestOwnerKilledAfterEffects
	// kills one that is).
	const path = "/payments?delay=5s"
	go func() { _, _ = servertest.Pay(context.Background(), client, a.Base, path, key) }() // dies with a
	a.WaitRunning(t, 1)
	time.Sleep(1500 * time.Millisecond) // longer than the lease
	if r, err := servertest.Pay(context.Background(), client, b.Base, path, key); err != nil || r.Status != http.StatusConflict {
		t.Fatalf("while the first instance runs the payment past its lease: %v, %v; want 409", r, err)
	}

	if err := a.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	killed := time.Now()
	var (
		r    servertest.Reply
		sent time.Time
	)
	for {
		var err error
		sent = time.Now()
		r, err = servertest.Pay(context.Background(), client, b.Base, path, key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusConflict {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("still 409 %v after the owner was killed, with -lease 1s", time.Since(killed).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("taken over by a request sent %v after the owner was killed", sent.Sub(killed).Round(time.Millisecond))
	if r.Status != http.StatusCreated || r.Idem() != "Original" {
		t.Errorf("takeover: %v, want 201 Original", r)
	}
	if n := b.MustStats(t).Payments; n != 1 {
		t.Errorf("the second instance ran the payment %d times, want 1", n)
	}
	if r, err := servertest.Pay(context.Background(), client, b.Base, path, key); err != nil || r.Idem() != "Repeated" {
		t.Errorf("retry after the takeover: %v, %v; want a replay", r, err)
	}
}
