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
			runs := 0
			for i := range 2 {
				x := newPost("k", "", captured(c.capd))
				if err := e.Serve(x); err != nil {
					t.Fatal(err)
				}
				if x.status == http.StatusGone {
					t.Fatalf("request %d: 410 result-unavailable after a failed %d: the key locked itself", i, c.capd.Status)
				}
				runs += x.runs
			}
			if runs != 2 {
				t.Fatalf("ran %d times, want 2 (a failure is retried fresh)", runs)
			}
		})
	}
}

// After declaring effects, a streamed 5xx is an uncertain failure, not a
// tombstone (which would tell the client the operation ran to completion).
func TestUnstoredFailureAfterEffectsIsUncertain(t *testing.T) {
	e := newEngine(t)
	run := func(ctx context.Context, w *fakeWriter) error {
		if err := core.DeclareEffects(ctx); err != nil {
			t.Error(err)
		}
		return captured(core.Captured{Status: 502, Streamed: true})(ctx, w)
	}
	if err := e.Serve(newPost("k", "", run)); err != nil {
		t.Fatal(err)
	}
	x := newPost("k", "", run)
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
	run := func(ctx context.Context, w *fakeWriter) error { kept = ctx; w.WriteHeader(500); return nil }
	if err := e.Serve(newPost("k", "", run)); err != nil {
		t.Fatal(err)
	}
	if err := core.DeclareEffects(kept); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("late DeclareEffects = %v, want ErrNoClaim", err)
	}
}
