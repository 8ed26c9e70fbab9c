package coretest

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

func init() {
	adapterCases = append(adapterCases, effectCases...)
}

// effectCases hold SPEC §3 steps 8 and 9 for effects that must not run
// twice: a response that ran but cannot be stored leaves a tombstone, and
// a handler that declared effects and then failed (or whose owner died)
// leaves the key uncertain. In every case the handler runs once.
var effectCases = []adapterCase{
	{name: "Step9_OversizeLeavesTombstone", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithMaxResponseBytes(300), core.WithTelemetry(rec))
		r := e.do(req{key: k1, body: payment, path: "/items/1?size=1000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 1000 {
			t.Fatalf("body truncated to %d bytes", len(r.Body))
		}
		for range 3 {
			wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?size=1000"}), http.StatusGone, core.ProblemResultUnavailable)
		}
		e.wantCount("items", 1)
		if n := len(rec.Events(core.EventResultUnavailable)); n != 1 {
			t.Fatalf("RESULT_UNAVAILABLE fired %d times, want once (when the tombstone is written)", n)
		}
		if got := rec.Outcomes()[core.OutcomeUnavailable]; got != 3 {
			t.Fatalf("unavailable outcomes = %d, want 3", got)
		}
		// Another payload under the same key is still a mismatch.
		wantStatus(t, e.do(req{key: k1, body: `{"amount":1}`, path: "/items/1?size=1000"}), 422, "")
	}},
	{name: "Step9_StreamedLeavesTombstone", run: func(t *testing.T, e *env) {
		e.start()
		for i, q := range []string{"stream=1", "sse=1"} {
			key := []string{k1, k2}[i]
			r := e.do(req{key: key, body: payment, path: "/items/1?" + q})
			if r.Status != 201 || r.Header.Get("Idempotency-Status") != "Original" {
				t.Fatalf("%s: first reply %d %q", q, r.Status, r.Header.Get("Idempotency-Status"))
			}
			wantProblem(t, e.do(req{key: key, body: payment, path: "/items/1?" + q}), http.StatusGone, core.ProblemResultUnavailable)
			e.wantCount("items", i+1)
		}
	}},
	{name: "Step9_ReleaseUnstoredRunsAgain", run: func(t *testing.T, e *env) {
		e.start(core.WithMaxResponseBytes(300), core.WithReleaseUnstored())
		for i := 1; i <= 2; i++ {
			wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?size=1000"}), 201, "Original")
			r := e.do(req{key: k2, body: payment, path: "/items/1?stream=1"})
			if r.Status != 201 || r.Header.Get("Idempotency-Status") != "Original" {
				t.Fatalf("streamed reply %d %q", r.Status, r.Header.Get("Idempotency-Status"))
			}
			e.wantCount("items", 2*i)
		}
		// Declared effects keep the tombstone even so.
		wantStatus(t, e.do(req{key: k3, body: payment, path: "/items/1?size=1000&effects=1"}), 201, "Original")
		wantProblem(t, e.do(req{key: k3, body: payment, path: "/items/1?size=1000&effects=1"}), http.StatusGone, core.ProblemResultUnavailable)
		e.wantCount("items", 5)
	}},
	{name: "Step9_ServerErrorAfterEffectsIsUncertain", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		alerts := make(chan core.Event, 8)
		e.start(core.WithTelemetry(rec), core.WithAlertHandler(func(_ context.Context, ev core.Event) {
			if ev.Type == core.EventOperationUncertain {
				alerts <- ev
			}
		}))
		if r := e.do(req{key: k1, body: payment, path: "/items/1?effects=1&status=500"}); r.Status != 500 {
			t.Fatalf("first reply %d %s", r.Status, r.Body)
		}
		for range 3 {
			wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?effects=1&status=500"}), http.StatusLocked, core.ProblemOperationUncertain)
		}
		e.wantCount("items", 1)
		if n := len(rec.Events(core.EventOperationUncertain)); n != 1 {
			t.Fatalf("OPERATION_UNCERTAIN fired %d times, want once", n)
		}
		select {
		case <-alerts:
		case <-time.After(5 * time.Second):
			t.Fatal("OPERATION_UNCERTAIN did not alert")
		}
		// Without effects, a 500 still releases (SPEC §3 step 9).
		e.do(req{key: k2, body: payment, path: "/items/1?status=500"})
		wantStatus(t, e.do(req{key: k2, body: payment}), 201, "Original")
		e.wantCount("items", 3)
	}},
	{name: "Step9_EffectsFromFrameworkContext", run: func(t *testing.T, e *env) {
		e.start()
		if r := e.do(req{key: k1, body: payment, path: "/items/1?effects=fw&status=502"}); r.Status == 503 && strings.Contains(string(r.Body), errNoFrameworkCtx.Error()) {
			t.Skip("the framework's own context is not a context.Context (Echo v4)")
		} else if r.Status != 502 {
			t.Fatalf("first reply %d %s", r.Status, r.Body)
		}
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?effects=fw&status=502"}), http.StatusLocked, core.ProblemOperationUncertain)
		e.wantCount("items", 1)
	}},
	{name: "Step9_PanicAfterEffectsIsUncertain", run: func(t *testing.T, e *env) {
		e.start()
		if r := e.do(req{key: k1, body: payment, path: "/items/1?effects=1&panic=1"}); r.Status != 500 {
			t.Fatalf("panic answered %d", r.Status)
		}
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?effects=1&panic=1"}), http.StatusLocked, core.ProblemOperationUncertain)
		e.wantCount("items", 1)
	}},
	{name: "Step9_HandlerErrorAfterEffectsIsUncertain", needsErrors: true, run: func(t *testing.T, e *env) {
		e.start()
		if r := e.do(req{key: k1, body: payment, path: "/items/1?effects=1&error=1"}); r.Status != 500 {
			t.Fatalf("handler error answered %d", r.Status)
		}
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?effects=1&error=1"}), http.StatusLocked, core.ProblemOperationUncertain)
		e.wantCount("items", 1)
	}},
	{name: "Step9_DeadOwnerAfterEffectsIsUncertain", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		killed := NewKilledAfterCommit(e.newStore())
		const lease = 300 * time.Millisecond
		e.startStore(killed, core.WithLease(lease), core.WithLockWait(0), core.WithTelemetry(rec))
		// The handler succeeds, but its instance "dies" after declaring
		// effects: neither renewal nor completion reaches the store.
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?effects=1"}), 201, "Original")
		time.Sleep(lease + 150*time.Millisecond)
		var wg sync.WaitGroup
		replies := make([]Reply, 20)
		for i := range replies {
			wg.Go(func() { replies[i] = e.do(req{key: k1, body: payment, path: "/items/1?effects=1"}) })
		}
		wg.Wait()
		for _, r := range replies {
			wantProblem(t, r, http.StatusLocked, core.ProblemOperationUncertain)
		}
		e.wantCount("items", 1)
		if n := len(rec.Events(core.EventOperationUncertain)); n != 1 {
			t.Fatalf("OPERATION_UNCERTAIN fired %d times, want once (by the Begin that found the dead owner)", n)
		}
	}},
	{name: "Step9_ConcurrentDuplicatesOfAFailingCommittedHandler", run: func(t *testing.T, e *env) {
		e.start(core.WithLockWait(5 * time.Second))
		var wg sync.WaitGroup
		replies := make([]Reply, 30)
		for i := range replies {
			wg.Go(func() {
				replies[i] = e.do(req{key: k1, body: payment, path: "/items/1?effects=1&delay=200ms&status=500"})
			})
		}
		wg.Wait()
		e.wantCount("items", 1)
		failed, uncertain := 0, 0
		for _, r := range replies {
			switch r.Status {
			case 500:
				failed++
			case http.StatusLocked:
				uncertain++
			default:
				t.Fatalf("reply %d %s", r.Status, r.Body)
			}
		}
		if failed != 1 || uncertain != len(replies)-1 {
			t.Fatalf("%d originals failed and %d got operation-uncertain, want 1 and %d", failed, uncertain, len(replies)-1)
		}
	}},
	{name: "Step9_ResolveReleasesOrCompletes", run: func(t *testing.T, e *env) {
		e.start()
		ctx := context.Background()
		sk := func(k string) string {
			return core.StoreKey(core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, e.h.pattern("items"), ""), k)
		}
		for _, k := range []string{k1, k3} {
			e.do(req{key: k, body: payment, path: "/items/1?effects=1&status=500"})
		}
		// Released: the next retry runs once, then replays.
		if err := e.store.Resolve(ctx, sk(k1), nil, time.Hour); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1"}), 201, "Repeated")
		e.wantCount("items", 3)
		// Completed with the operator's response: retries replay it.
		payload, err := core.BinarySerializer{}.Encode(nil, &core.Response{Status: 201,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"resolved":true}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.Resolve(ctx, sk(k3), payload, time.Hour); err != nil {
			t.Fatal(err)
		}
		r := e.do(req{key: k3, body: payment, path: "/items/1?effects=1&status=500"})
		wantStatus(t, r, 201, "Repeated")
		if string(r.Body) != `{"resolved":true}` {
			t.Fatalf("replayed %s", r.Body)
		}
		e.wantCount("items", 3)
	}},
	{name: "Step8_DerivedKeyIsStablePerOperation", run: func(t *testing.T, e *env) {
		e.start(core.WithDerivedKeySecret([]byte("0123456789abcdef0123456789abcdef")))
		derived := func(key, q string) string {
			r := e.do(req{key: key, body: payment, path: "/items/1?status=500&" + q})
			return r.Header.Get("X-Derived-Key")
		}
		a1, a2 := derived(k1, "derived=psp"), derived(k1, "derived=psp")
		e.wantCount("items", 2) // released after each 500: run again
		if len(a1) != 36 || a1 != a2 {
			t.Fatalf("derived keys %q and %q: want one UUID for every run of the operation", a1, a2)
		}
		if b := derived(k2, "derived=psp"); b == a1 || len(b) != 36 {
			t.Fatalf("another idempotency key derived %q, the same as %q", b, a1)
		}
		if c := derived(k1, "derived=ledger"); c == a1 || len(c) != 36 {
			t.Fatalf("another name derived %q, the same as %q", c, a1)
		}
		r := e.do(req{key: k1, body: payment, user: "alice", path: "/items/1?status=500&derived=psp"})
		if d := r.Header.Get("X-Derived-Key"); d == a1 || len(d) != 36 {
			t.Fatalf("another user's scope derived %q, the same as %q", d, a1)
		}
	}},
}

// k3 is a third key, for cases that need three.
const k3 = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a003"
