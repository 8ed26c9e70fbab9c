package core_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// fakeExchange is a minimal core.Exchange: a POST to /p with an
// Idempotency-Key, whose handler is run.
type fakeExchange struct {
	key    string
	run    func(ctx context.Context) core.Captured
	status int
	header http.Header
	body   []byte
}

// fakeRequest is fakeExchange's read-only view.
type fakeRequest fakeExchange

func (x *fakeRequest) Context() context.Context { return context.Background() }
func (x *fakeRequest) Method() string           { return http.MethodPost }
func (x *fakeRequest) Path() string             { return "/p" }
func (x *fakeRequest) Route() string            { return "/p" }
func (x *fakeRequest) RawQuery() string         { return "" }
func (x *fakeRequest) Header(name string) []string {
	if name == core.DefaultHeaderName {
		return []string{x.key}
	}
	return nil
}
func (x *fakeRequest) ClientIP() string { return "127.0.0.1" }
func (x *fakeRequest) Value(string) any { return nil }

func (x *fakeExchange) Request() core.Request      { return (*fakeRequest)(x) }
func (x *fakeExchange) Body(int64) ([]byte, error) { return nil, nil }
func (x *fakeExchange) Enter() bool                { return true }
func (x *fakeExchange) SetHeader(string, []string) {}
func (x *fakeExchange) Pass() error                { return nil }
func (x *fakeExchange) Reply(s int, h http.Header, body []byte) {
	x.status, x.header, x.body = s, h, body
}
func (x *fakeExchange) Next(ctx context.Context, _ int) (core.Captured, error) {
	c := x.run(ctx)
	x.status = c.Status
	return c, nil
}

// A streamed (or oversize) response with a 5xx status is a failure, not a
// result that ran to completion: it must be released so that a retry runs
// fresh (SPEC §3 step 9: "a non-cacheable status (5xx always) ... deletes
// the claim"), not tombstoned, which would lock the key out for its whole
// TTL with 410 result-unavailable.
func TestUnstoredFailureIsReleasedNotTombstoned(t *testing.T) {
	for _, c := range []struct {
		name string
		capd core.Captured
	}{
		{"streamed 503", core.Captured{Status: 503, Streamed: true}},
		{"oversize 500", core.Captured{Status: 500, Oversize: true}},
		{"streamed 429", core.Captured{Status: 429, Streamed: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEngine(t)
			var runs atomic.Int32
			run := func(context.Context) core.Captured { runs.Add(1); return c.capd }
			for i := range 2 {
				x := &fakeExchange{key: "k", run: run}
				if err := e.Serve(x); err != nil {
					t.Fatal(err)
				}
				if x.status == http.StatusGone {
					t.Fatalf("request %d: 410 result-unavailable after a failed %d: the key locked itself", i, c.capd.Status)
				}
			}
			if runs.Load() != 2 {
				t.Fatalf("ran %d times, want 2 (a failure is retried fresh)", runs.Load())
			}
		})
	}
}

// After declaring effects, a streamed 5xx is an uncertain failure, not a
// tombstone (which would tell the client the operation ran to completion).
func TestUnstoredFailureAfterEffectsIsUncertain(t *testing.T) {
	e := newEngine(t)
	run := func(ctx context.Context) core.Captured {
		if err := core.DeclareEffects(ctx); err != nil {
			t.Error(err)
		}
		return core.Captured{Status: 502, Streamed: true}
	}
	if err := e.Serve(&fakeExchange{key: "k", run: run}); err != nil {
		t.Fatal(err)
	}
	x := &fakeExchange{key: "k", run: run}
	if err := e.Serve(x); err != nil {
		t.Fatal(err)
	}
	if x.status != http.StatusLocked {
		t.Fatalf("retry after a streamed 502 with effects = %d, want 423 operation-uncertain", x.status)
	}
}

// WithLease: "a handler that runs longer keeps its claim: the lease is
// renewed every lease/3 while it runs". On the memory store a renewed
// claim was still dropped at the in-flight record's TTL (max(ttl,
// 2*lease)), so a retry ran a handler that had declared effects a second
// time while the first still ran.
func TestLongHandlerKeepsCommittedClaimPastClaimTTL(t *testing.T) {
	e := newEngine(t, core.WithTTL(50*time.Millisecond), core.WithLease(40*time.Millisecond), core.WithLockWait(0))
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	ctx := context.Background()
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
			runs.Add(1)
			if err := core.DeclareEffects(ctx); err != nil {
				return nil, err
			}
			close(started)
			<-release
			return []byte("charged"), nil
		})
		done <- err
	}()
	<-started
	time.Sleep(250 * time.Millisecond) // > 3 × the claim's TTL of 80ms, renewed all along
	_, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		runs.Add(1)
		return []byte("charged again"), nil
	})
	close(release)
	if ferr := <-done; ferr != nil {
		t.Fatalf("first Do: %v", ferr)
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times: the running claim was dropped at its TTL (retry got %v)", runs.Load(), err)
	}
	if !errors.Is(err, core.ErrInFlight) {
		t.Fatalf("retry while the first runs = %v, want ErrInFlight", err)
	}
}

// A goroutine of the handler that declares effects after the handler has
// returned is refused, whatever the response was.
func TestDeclareEffectsAfterReturnIsRefused(t *testing.T) {
	e := newEngine(t)
	var kept context.Context
	run := func(ctx context.Context) core.Captured { kept = ctx; return core.Captured{Status: 500} }
	if err := e.Serve(&fakeExchange{key: "k", run: run}); err != nil {
		t.Fatal(err)
	}
	if err := core.DeclareEffects(kept); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("late DeclareEffects = %v, want ErrNoClaim", err)
	}
}
