package core_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Protocol bugs found by the fake-exchange tests, each pinned by a test
// that fails until the Engine is fixed (engine.go is being edited
// elsewhere; these say what to change).

// SPEC §3 step 12: "A 409's Retry-After is a useful hint (about the lock
// wait, at least 1 s), not the remaining lease." The Engine sends the
// remaining lease, clamped to [1, 60] (retryAfter(res.Record.LeaseUntil)
// in serve): with the default 30 s lease a duplicate is told to come
// back in about 30 s although the original usually ends within the lock
// wait. Fix: derive it from the lock wait, e.g. max(1, ceil(lockWait)).
func TestInFlightRetryAfterIsAboutTheLockWait(t *testing.T) {
	for _, wait := range []time.Duration{0, 20 * time.Millisecond} {
		t.Run("wait="+wait.String(), func(t *testing.T) {
			hint := max(1, int(math.Ceil(wait.Seconds())))
			p := newProtoEnv(t, protoCase{opts: []core.Option{core.WithLease(core.DefaultLease), core.WithLockWait(wait)}})
			p.run(t, 0, step{x: post(k1, payment), want: original(201), during: []step{
				{x: post(k1, payment), want: refused(409, core.ProblemInFlight, core.OutcomeConflict).and(
					func(t *testing.T, x *fakeExchange) {
						got, err := strconv.Atoi(x.response().Get("Retry-After"))
						if err != nil || got < 1 || got > hint {
							t.Errorf("Retry-After %q with a %v lock wait and a %v lease, want %d (about the lock wait, at least 1 s; not the remaining lease)",
								x.response().Get("Retry-After"), wait, core.DefaultLease, hint)
						}
					})},
			}})
		})
	}
}

// SPEC §3 step 1: a request a Skip func (or Methods) excludes "passes
// through untouched". Serve calls ex.Enter() before the skip checks, so a
// skipped request is still marked as handled, and an inner idemkit
// middleware on the same request passes it through too: with a global
// middleware that skips webhook routes and a route-level one reading
// X-Webhook-ID on them, webhooks silently get no idempotency at all. The
// packages' docs say "when idemkit middlewares are stacked, the
// outermost handles it and the inner ones pass through"; a skipped
// request is not handled by the outer one. Fix: call Enter after step 1
// (method, Skip, unmatched route), just before extracting the key.
//
// Skipped until the stacking rule for skipped requests is decided; it
// fails on the Engine as it is.
func TestStackedOuterSkipLeavesTheInnerInCharge(t *testing.T) {
	t.Skip("pending a decision (see comment): fails while Serve calls Enter before the Skip func")
	outer := newEngine(t, core.WithSkip(func(core.Request) bool { return true }))
	inner := newEngine(t)
	t.Cleanup(func() { _ = outer.Close(context.Background()); _ = inner.Close(context.Background()) })
	for i, want := range []string{"Original", "Repeated"} {
		x := post("evt-1", payment)
		depth := 0
		// The chain: outer middleware, inner middleware, handler, all on
		// one request (one exchange), as a framework runs them.
		x.handler = func(ctx context.Context, w *fakeWriter) error {
			if depth++; depth == 1 {
				return inner.Serve(x)
			}
			return respond(201, "created")(ctx, w)
		}
		if err := outer.Serve(x); err != nil {
			t.Fatal(err)
		}
		if got := x.response().Get("Idempotency-Status"); got != want {
			t.Errorf("request %d: Idempotency-Status %q, want %q: the inner middleware passed a request the outer one skipped", i, got, want)
		}
	}
}
