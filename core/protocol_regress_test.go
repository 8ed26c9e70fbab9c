package core_test

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Regressions found by the fake-exchange tests, each seen failing on the
// Engine before its fix.

// SPEC §3 step 12: "A 409's Retry-After is a useful hint (about the lock
// wait, at least 1 s), not the remaining lease." The Engine used to send
// the remaining lease, clamped to [1, 60]: with the default 30 s lease a
// duplicate was told to come back in about 30 s although the original
// usually ends within the lock wait.
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
// through untouched", and that includes not marking it as handled: with a
// global middleware that skips webhook routes and a route-level one
// reading X-Webhook-ID on them, the inner one must handle webhooks. (Serve
// used to call Enter before the skip checks, and webhooks then silently
// got no idempotency at all.)
func TestStackedOuterSkipLeavesTheInnerInCharge(t *testing.T) {
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
