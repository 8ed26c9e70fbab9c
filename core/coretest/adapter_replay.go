package coretest

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

func init() {
	adapterCases = append(adapterCases, replayCases...)
}

var mounts = []struct {
	name string
	m    Mount
}{{"route", MountRoute}, {"global", MountGlobal}, {"group", MountGroup}}

// replayCases hold replay fidelity: a replay is the original response of
// this handler for this route, nothing more and nothing less, under every
// way of mounting the middleware; a request the application never routed
// is not touched.
var replayCases = []adapterCase{
	{name: "Step8_OuterMiddlewareHeadersNotStored", run: func(t *testing.T, e *env) {
		for _, m := range mounts {
			e.startMounted(m.m, e.newStore())
			first := e.do(req{key: k1, body: payment, headers: [][2]string{{"Origin", "https://a.example"}}})
			wantStatus(t, first, 201, "Original")
			replay := e.do(req{key: k1, body: payment, headers: [][2]string{{"Origin", "https://b.example"}}})
			wantStatus(t, replay, 201, "Repeated")
			if got := replay.Header.Get("Access-Control-Allow-Origin"); got != "https://b.example" {
				t.Fatalf("%s: replay carries Access-Control-Allow-Origin %q, want this request's https://b.example", m.name, got)
			}
			if vals := replay.Header.Values("Access-Control-Allow-Origin"); len(vals) != 1 {
				t.Fatalf("%s: replay carries Access-Control-Allow-Origin %q", m.name, vals)
			}
			a, b := first.Header.Get("X-Request-Id"), replay.Header.Get("X-Request-Id")
			if a == "" || b == "" || a == b || len(replay.Header.Values("X-Request-Id")) != 1 {
				t.Fatalf("%s: X-Request-Id original %q, replay %q: the replay must carry its own", m.name, a, replay.Header.Values("X-Request-Id"))
			}
			// What the handler set is replayed.
			for _, h := range []string{"Location", "X-Execution", "Content-Type"} {
				if first.Header.Get(h) == "" || replay.Header.Get(h) != first.Header.Get(h) {
					t.Fatalf("%s: %s original %q, replay %q", m.name, h, first.Header.Get(h), replay.Header.Get(h))
				}
			}
			e.wantCount("items", 1)
		}
	}},
	{name: "Step10_DenylistOption", run: func(t *testing.T, e *env) {
		e.start(core.WithReplayHeadersExcept("x-execution"))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		r := e.do(req{key: k1, body: payment})
		wantStatus(t, r, 201, "Repeated")
		if r.Header.Get("X-Execution") != "" || r.Header.Get("Location") == "" {
			t.Fatalf("denylist: X-Execution %q, Location %q", r.Header.Get("X-Execution"), r.Header.Get("Location"))
		}
	}},
	{name: "Step10_StoredCookieNeverReplayed", run: func(t *testing.T, e *env) {
		// A record holding Set-Cookie and hop-by-hop headers (written by an
		// older version, another configuration, or anyone with access to
		// the store) must still not replay them.
		st := e.newStore()
		e.startStore(st)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		ctx := context.Background()
		sk := core.StoreKey(core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, e.h.pattern("items"), ""), k1)
		rec, err := st.Get(ctx, sk)
		if err != nil {
			t.Fatalf("the record is not where core.StoreKey says: %v", err)
		}
		payload, err := core.BinarySerializer{}.Encode(nil, &core.Response{Status: 201, Header: http.Header{
			"Set-Cookie": {"session=stolen"}, "Connection": {"close"}, "Location": {"/items/1"},
		}, Body: []byte(`{"forged":false}`)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Delete(ctx, sk); err != nil {
			t.Fatal(err)
		}
		res, err := st.Begin(ctx, sk, core.Attempt{Fingerprint: rec.Fingerprint, Nonce: 1, Lease: time.Minute, TTL: time.Hour})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatalf("Begin: %v %v", res.Outcome, err)
		}
		if err := st.Complete(ctx, sk, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
			t.Fatal(err)
		}
		r := e.do(req{key: k1, body: payment})
		wantStatus(t, r, 201, "Repeated")
		if len(r.Header.Values("Set-Cookie")) != 0 || r.Header.Get("Location") != "/items/1" {
			t.Fatalf("replayed headers %v: Set-Cookie must never be replayed", r.Header)
		}
	}},
	{name: "Step8_EventStreamNotStored", run: func(t *testing.T, e *env) {
		// text/event-stream written without an explicit flush is still a
		// stream: delivered, never stored or replayed (a tombstone
		// answers the retry, see effectCases).
		e.start()
		r := e.do(req{key: k1, body: payment, path: "/items/1?sse=1"})
		if r.Status != 201 || r.Header.Get("Idempotency-Status") != "Original" {
			t.Fatalf("%d %q", r.Status, r.Header.Get("Idempotency-Status"))
		}
		if r := e.do(req{key: k1, body: payment, path: "/items/1?sse=1"}); r.Header.Get("Idempotency-Status") == "Repeated" || r.Header.Get("Content-Type") == "text/event-stream" {
			t.Fatalf("an event stream was replayed: %d %q", r.Status, r.Header.Get("Content-Type"))
		}
		e.wantCount("items", 1)
	}},

	{name: "Step5_UnmatchedRoutesPassThrough", run: func(t *testing.T, e *env) {
		for _, m := range mounts[1:] {
			rec := &Recorder{}
			e.startMounted(m.m, e.newStore(), core.WithTelemetry(rec))
			for i, key := range []string{"", k1, "not-a-uuid"} {
				r := e.do(req{key: key, body: payment, path: "/typo/" + strconv.Itoa(i)})
				if r.Status != http.StatusNotFound || r.Header.Get("Idempotency-Status") != "" {
					t.Fatalf("%s: unmatched path with key %q: %d %q %s, want the framework's 404", m.name, key, r.Status, r.Header.Get("Idempotency-Status"), r.Body)
				}
				if r.Header.Get("Content-Type") == "application/problem+json" {
					t.Fatalf("%s: unmatched path answered by the middleware: %s", m.name, r.Body)
				}
			}
			if ms, evs := rec.Measurements(), rec.Events(""); len(ms) != 0 || len(evs) != 0 {
				t.Fatalf("%s: unmatched paths recorded %d measurements and %d events", m.name, len(ms), len(evs))
			}
		}
	}},
	{name: "Step5_OneKeyTwoRoutesAreTwoScopes", run: func(t *testing.T, e *env) {
		for _, m := range mounts {
			rec := &Recorder{}
			e.startMounted(m.m, e.newStore(), core.WithTelemetry(rec))
			wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1"}), 201, "Original")
			wantStatus(t, e.do(req{key: k1, body: payment, path: "/other/1"}), 201, "Original")
			wantStatus(t, e.do(req{key: k1, body: payment, path: "/other/1"}), 201, "Repeated")
			e.wantCount("items", 1)
			e.wantCount("other", 1)
			routes := map[string]int{}
			for _, ms := range rec.Measurements() {
				routes[ms.Route]++
			}
			if len(routes) != 2 || routes[e.h.pattern("items")] != 1 || routes[e.h.pattern("other")] != 2 {
				t.Fatalf("%s: measurements by route %v, want the two route patterns", m.name, routes)
			}
		}
	}},
	{name: "Step9_FrameworkErrorsFollowOneRule", needsErrors: true, run: func(t *testing.T, e *env) {
		// A handler error is answered by the framework's error handling
		// inside the middleware; that answer is treated like any other
		// response: a 4xx is stored and replayed, a 5xx releases the key.
		e.start()
		r := e.do(req{key: k1, body: payment, path: "/items/1?error=400"})
		wantStatus(t, r, 400, "Original")
		again := e.do(req{key: k1, body: payment, path: "/items/1?error=400"})
		wantStatus(t, again, 400, "Repeated")
		if string(again.Body) != string(r.Body) {
			t.Fatalf("replayed error body %q, original %q", again.Body, r.Body)
		}
		e.wantCount("items", 1)
		for range 2 {
			wantStatus(t, e.do(req{key: k2, body: payment, path: "/items/1?error=1"}), 500, "Original")
		}
		e.wantCount("items", 3)
	}},
	{name: "Step8_ClientDisconnectNeverStrandsAClaim", run: func(t *testing.T, e *env) {
		// The client gives up while the handler runs. Whatever the
		// framework does with the handler (Gin and Echo cancel its
		// context, Fiber does not), the claim must end completed or
		// released, never stay in flight.
		st := e.newStore()
		e.startStore(st, core.Tag("wait=0s"))
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		hr, err := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/items/1?delay=300ms", nil)
		if err != nil {
			t.Fatal(err)
		}
		hr.Header.Set("Idempotency-Key", k1)
		if resp, err := client.Do(hr); err == nil {
			resp.Body.Close()
			t.Fatal("the client was expected to give up")
		}
		sk := core.StoreKey(core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, e.h.pattern("items"), ""), k1)
		deadline := time.Now().Add(5 * time.Second)
		for {
			rec, err := st.Get(context.Background(), sk)
			if err == core.ErrNotFound || (err == nil && rec.State == core.StateCompleted) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("claim still %v 5 s after the client left (err %v)", rec.State, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		r := e.do(req{key: k1, path: "/items/1?delay=300ms"})
		if r.Status != 201 {
			t.Fatalf("retry after the disconnect: %d %s", r.Status, r.Body)
		}
	}},
}
