package coretest

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

var adapterCases = []adapterCase{
	// Step 1: skip.
	{name: "Step1_SafeMethodsPassUntouched", run: func(t *testing.T, e *env) {
		e.start()
		for i := 0; i < 2; i++ {
			r := e.do(req{method: http.MethodGet, key: k1})
			wantStatus(t, r, 201, "")
		}
		e.wantCount("items", 2)
	}},
	{name: "Step1_MethodsOption", run: func(t *testing.T, e *env) {
		e.start(core.WithMethods("POST"))
		e.do(req{method: http.MethodPut, key: k1, body: payment})
		r := e.do(req{method: http.MethodPut, key: k1, body: payment})
		wantStatus(t, r, 201, "")
		e.wantCount("items", 2)
		for _, m := range []string{http.MethodPost, http.MethodPost} {
			e.do(req{method: m, key: k1, body: payment})
		}
		e.wantCount("items", 3)
	}},
	{name: "Step1_SkipFunc", run: func(t *testing.T, e *env) {
		e.start(core.WithSkip(func(r core.Request) bool { return len(r.Header("X-Internal")) > 0 }))
		for i := 0; i < 2; i++ {
			r := e.do(req{key: k1, body: payment, headers: [][2]string{{"X-Internal", "1"}}})
			wantStatus(t, r, 201, "")
		}
		e.wantCount("items", 2)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
	}},

	// Step 2: key extraction.
	{name: "Step2_BareAndQuotedKeysAreOneKey", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: `"` + k1 + `"`, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Step2_SeveralKeysRejected", run: func(t *testing.T, e *env) {
		e.start()
		wantProblem(t, e.do(req{body: payment, headers: [][2]string{{"Idempotency-Key", k1}, {"Idempotency-Key", k2}}}), 400, core.ProblemInvalidKey)
		wantProblem(t, e.do(req{key: k1 + ", " + k2, body: payment}), 400, core.ProblemInvalidKey)
		wantProblem(t, e.do(req{key: `"` + k1 + `", "` + k2 + `"`, body: payment}), 400, core.ProblemInvalidKey)
		e.wantCount("items", 0)
	}},
	{name: "Step2_WebhookHeader", run: func(t *testing.T, e *env) {
		e.start(core.WithHeaderName("X-Webhook-ID"), core.WithKeyValidator(core.Token()), core.WithoutPayloadCheck())
		hdr := [][2]string{{"X-Webhook-ID", "evt_123"}}
		wantStatus(t, e.do(req{body: `{"a":1}`, headers: hdr}), 201, "Original")
		// No payload check: a redelivery with other bytes replays.
		wantStatus(t, e.do(req{body: `{"a":2}`, headers: hdr}), 201, "Repeated")
		wantProblem(t, e.do(req{key: k1, body: `{"a":1}`}), 400, core.ProblemMissingKey)
		e.wantCount("items", 1)
	}},

	// Step 3: missing key.
	{name: "Step3_MissingKeyRequired", run: func(t *testing.T, e *env) {
		e.start()
		r := e.do(req{body: payment})
		wantProblem(t, r, 400, core.ProblemMissingKey)
		if !strings.Contains(string(r.Body), "Idempotency-Key") {
			t.Fatalf("detail does not name the header: %s", r.Body)
		}
		e.wantCount("items", 0)
	}},
	{name: "Step3_MissingKeyOptional", run: func(t *testing.T, e *env) {
		e.start(core.Tag("optional"))
		for i := 0; i < 2; i++ {
			wantStatus(t, e.do(req{body: payment}), 201, "")
		}
		e.wantCount("items", 2)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
	}},

	// Step 4: validation.
	{name: "Step4_DefaultUUID", run: func(t *testing.T, e *env) {
		e.start()
		for _, k := range []string{"not-a-uuid", k1 + "0", strings.Replace(k1, "-", "", 1), strings.Replace(k1, "6", "g", 1)} {
			wantProblem(t, e.do(req{key: k, body: payment}), 400, core.ProblemInvalidKey)
		}
		e.wantCount("items", 0)
		wantStatus(t, e.do(req{key: k2, body: payment}), 201, "Original") // upper case
	}},
	{name: "Step4_ULIDTokenAndLength", run: func(t *testing.T, e *env) {
		e.start(core.Tag("key=ulid"))
		wantStatus(t, e.do(req{key: "01ARZ3NDEKTSV4RRFFQ69G5FAV", body: payment}), 201, "Original")
		wantProblem(t, e.do(req{key: k1, body: payment}), 400, core.ProblemInvalidKey)

		e.start(core.WithKeyValidator(core.Token()), core.WithMaxKeyLength(12))
		wantStatus(t, e.do(req{key: "order-42", body: payment}), 201, "Original")
		wantProblem(t, e.do(req{key: "order-4200000000", body: payment}), 400, core.ProblemInvalidKey)

		e.start(core.WithKeyValidator(core.MustRegex(`^ord_[0-9]+$`)))
		wantStatus(t, e.do(req{key: "ord_7", body: payment}), 201, "Original")
		wantProblem(t, e.do(req{key: "ord_x", body: payment}), 400, core.ProblemInvalidKey)
	}},

	// Step 5: scopes.
	{name: "Step5_UserRouteDefault", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, user: "bob"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original") // guest
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice", path: "/other/1"}), 201, "Original")
		r := e.do(req{key: k1, body: payment, user: "alice"})
		wantStatus(t, r, 201, "Repeated")
		if field(t, r.Body, "user") != "alice" {
			t.Fatalf("alice got someone else's response: %s", r.Body)
		}
		e.wantCount("items", 3)
		e.wantCount("other", 1)
	}},
	{name: "Step5_UserScope", run: func(t *testing.T, e *env) {
		e.start(core.WithScope(core.ScopeUser))
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice"}), 201, "Original")
		// Same user, other route: one key space, another request.
		wantProblem(t, e.do(req{key: k1, body: payment, user: "alice", path: "/other/1"}), 422, core.ProblemPayloadMismatch)
		wantStatus(t, e.do(req{key: k1, body: payment, user: "bob", path: "/other/1"}), 201, "Original")
	}},
	{name: "Step5_RouteScope", run: func(t *testing.T, e *env) {
		e.start(core.Tag("scope=route"))
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, user: "bob"}), 201, "Repeated")
		// Another concrete path of the same route pattern shares the key
		// space, and differs in fingerprint.
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/2"}), 422, core.ProblemPayloadMismatch)
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/other/1"}), 201, "Original")
	}},
	{name: "Step5_GlobalAndIPScopes", run: func(t *testing.T, e *env) {
		e.start(core.WithScope(core.ScopeGlobal))
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice"}), 201, "Original")
		wantProblem(t, e.do(req{key: k1, body: payment, user: "bob", path: "/other/1"}), 422, core.ProblemPayloadMismatch)

		e.start(core.Tag("scope=ip"))
		wantStatus(t, e.do(req{key: k1, body: payment, user: "alice"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, user: "bob"}), 201, "Repeated")
	}},
	{name: "Step5_ScopeResolverFailureIs500", run: func(t *testing.T, e *env) {
		e.start(core.WithScopeResolver(core.ScopeResolverFunc(func(core.Request) (string, error) {
			return "", errors.New("tenant service down")
		})))
		wantProblem(t, e.do(req{key: k1, body: payment}), 500, core.ProblemScope)
		e.wantCount("items", 0)
	}},
	{name: "Step5_CustomScopeResolver", run: func(t *testing.T, e *env) {
		e.start(core.WithScopeResolver(core.ScopeResolverFunc(func(r core.Request) (string, error) {
			return "tenant:" + strings.Join(r.Header("X-Tenant"), ""), nil
		})))
		t1 := [][2]string{{"X-Tenant", "t1"}}
		wantStatus(t, e.do(req{key: k1, body: payment, headers: t1}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, headers: t1, user: "x"}), 201, "Repeated")
		wantStatus(t, e.do(req{key: k1, body: payment, headers: [][2]string{{"X-Tenant", "t2"}}}), 201, "Original")
	}},

	// Step 6: fingerprint.
	{name: "Step6_CanonicalJSONReplays", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		reordered := "{ \"meta\": {\"b\": [1, 2], \"a\": 1.0},\n \"currency\": \"\\u0045UR\", \"amount\": 100 }"
		wantStatus(t, e.do(req{key: k1, body: reordered}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Step6_DifferentRequestMismatches", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantProblem(t, e.do(req{key: k1, body: strings.Replace(payment, "100", "101", 1)}), 422, core.ProblemPayloadMismatch)
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?dry=1"}), 422, core.ProblemPayloadMismatch)
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/2"}), 422, core.ProblemPayloadMismatch)
		wantStatus(t, e.do(req{key: k1, method: http.MethodPut, body: payment}), 201, "Original") // another method is another route
		e.wantCount("items", 2)
	}},
	{name: "Step6_QueryOrderAndIgnoredFields", run: func(t *testing.T, e *env) {
		e.start(core.WithIgnoredFields("meta.a"))
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?a=1&b=2"}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: strings.Replace(payment, `"a":1`, `"a":99`, 1), path: "/items/1?b=2&a=1"}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Step6_BodyRestoredForHandler", run: func(t *testing.T, e *env) {
		e.start()
		big := `{"blob":"` + strings.Repeat("x", 100_000) + `"}`
		r := e.do(req{key: k1, body: big})
		wantStatus(t, r, 201, "Original")
		if got := field(t, r.Body, "body_sha256"); got != BodyHash([]byte(big)) {
			t.Fatalf("handler read a different body: sha256 %s", got)
		}
		form := e.do(req{key: k2, body: "b=2&a=1", ctype: "application/x-www-form-urlencoded"})
		if got := field(t, form.Body, "body_sha256"); got != BodyHash([]byte("b=2&a=1")) {
			t.Fatalf("form body not restored: %s", got)
		}
	}},
	{name: "Step6_BodyTooLarge", run: func(t *testing.T, e *env) {
		e.start(core.WithMaxBodyBytes(32))
		wantProblem(t, e.do(req{key: k1, body: payment}), 413, core.ProblemBodyTooLarge)
		e.wantCount("items", 0)
		wantStatus(t, e.do(req{key: k1, body: `{"a":1}`}), 201, "Original")
	}},

	// Step 7: begin.
	{name: "Step7_DuplicateWaitsThenReplays", run: func(t *testing.T, e *env) {
		e.start()
		var first Reply
		done := make(chan struct{})
		go func() { first = e.do(req{key: k1, body: payment, path: "/items/1?delay=300ms"}); close(done) }()
		time.Sleep(80 * time.Millisecond)
		second := e.do(req{key: k1, body: payment, path: "/items/1?delay=300ms"})
		<-done
		wantStatus(t, first, 201, "Original")
		wantStatus(t, second, 201, "Repeated")
		if !bytes.Equal(first.Body, second.Body) {
			t.Fatalf("replay body differs:\n%s\n%s", first.Body, second.Body)
		}
		e.wantCount("items", 1)
	}},
	{name: "Step7_InFlightConflict", run: func(t *testing.T, e *env) {
		e.start(core.Tag("wait=0s"))
		done := make(chan struct{})
		go func() { e.do(req{key: k1, body: payment, path: "/items/1?delay=400ms"}); close(done) }()
		time.Sleep(100 * time.Millisecond)
		r := e.do(req{key: k1, body: payment, path: "/items/1?delay=400ms"})
		wantProblem(t, r, 409, core.ProblemInFlight)
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("409 without Retry-After")
		}
		// A different payload during flight is a mismatch, not a conflict.
		wantProblem(t, e.do(req{key: k1, body: `{"x":1}`}), 422, core.ProblemPayloadMismatch)
		<-done
		e.wantCount("items", 1)
	}},
	{name: "Step7_ExactlyOnceUnderConcurrency", run: func(t *testing.T, e *env) {
		e.start()
		const n = 500
		replies := e.parallel(n, req{key: k1, body: payment, path: "/items/1?delay=300ms"})
		originals, repeated, conflicts := 0, 0, 0
		var body []byte
		for _, r := range replies {
			switch {
			case r.Status == 201 && r.Header.Get("Idempotency-Status") == "Original":
				originals++
				body = r.Body
			case r.Status == 201 && r.Header.Get("Idempotency-Status") == "Repeated":
				repeated++
			case r.Status == 409 && r.Header.Get("Retry-After") != "":
				conflicts++
			default:
				t.Fatalf("unexpected reply %d %v %s", r.Status, r.Header, r.Body)
			}
		}
		if originals != 1 || repeated+conflicts != n-1 {
			t.Fatalf("originals=%d repeated=%d conflicts=%d", originals, repeated, conflicts)
		}
		for _, r := range replies {
			if r.Status == 201 && !bytes.Equal(r.Body, body) {
				t.Fatalf("a replay differs from the original")
			}
		}
		e.wantCount("items", 1)
	}},

	// Steps 8 and 9: run and complete.
	{name: "Step9_ServerErrorsAreNotStored", run: func(t *testing.T, e *env) {
		e.start()
		for i := 1; i <= 2; i++ {
			wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?status=500"}), 500, "Original")
			e.wantCount("items", i)
		}
		for _, s := range []string{"409", "429", "408"} {
			e.do(req{key: k2, body: payment, path: "/items/1?status=" + s})
			wantStatus(t, e.do(req{key: k2, body: payment, path: "/items/1?status=" + s}), atoi(s), "Original")
		}
	}},
	{name: "Step9_ClientErrorsAreStored", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?status=400"}), 400, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?status=400"}), 400, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Step9_CustomCacheable", run: func(t *testing.T, e *env) {
		e.start(core.WithCacheable(func(s int) bool { return s >= 200 && s < 300 }))
		e.do(req{key: k1, body: payment, path: "/items/1?status=400"})
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?status=400"}), 400, "Original")
		e.wantCount("items", 2)
	}},
	{name: "Step8_StreamingPassesUnstored", run: func(t *testing.T, e *env) {
		// Delivered as it streams, whole, and never stored: a retry gets
		// the tombstone's answer (effectCases), not a replay.
		e.start()
		r := e.do(req{key: k1, body: payment, path: "/items/1?stream=1"})
		if r.Status != 201 || field(t, r.Body, "route") != "items" {
			t.Fatalf("streamed reply %d %s", r.Status, r.Body)
		}
		if r := e.do(req{key: k1, body: payment, path: "/items/1?stream=1"}); r.Header.Get("Idempotency-Status") == "Repeated" {
			t.Fatalf("a streamed response was replayed: %d %s", r.Status, r.Body)
		}
		e.wantCount("items", 1)
	}},
	{name: "Step9_OversizeResponseNotStored", run: func(t *testing.T, e *env) {
		e.start(core.WithMaxResponseBytes(300))
		r := e.do(req{key: k1, body: payment, path: "/items/1?size=1000"})
		wantStatus(t, r, 201, "Original")
		if len(r.Body) != 1000 {
			t.Fatalf("body truncated to %d bytes", len(r.Body))
		}
		if r := e.do(req{key: k1, body: payment, path: "/items/1?size=1000"}); r.Header.Get("Idempotency-Status") == "Repeated" {
			t.Fatalf("an oversize response was replayed: %d", r.Status)
		}
		e.wantCount("items", 1)
	}},
	{name: "Step9_PanicReleasesClaim", run: func(t *testing.T, e *env) {
		e.start()
		r := e.do(req{key: k1, body: payment, path: "/items/1?panic=1"})
		if r.Status != 500 {
			t.Fatalf("panic answered %d, want the framework's 500", r.Status)
		}
		if r := e.do(req{key: k1, body: payment, path: "/items/1?panic=1&x=retry"}); r.Status != 500 {
			t.Fatalf("the released key did not run again: %d %s", r.Status, r.Body)
		}
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 3)
	}},
	{name: "Step9_HandlerErrorReleasesClaim", needsErrors: true, run: func(t *testing.T, e *env) {
		e.start()
		r := e.do(req{key: k1, body: payment, path: "/items/1?error=1"})
		if r.Status != 500 {
			t.Fatalf("handler error answered %d, want 500", r.Status)
		}
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		e.wantCount("items", 2)
	}},

	// Step 10: headers.
	{name: "Step10_ReplayIsIdentical", run: func(t *testing.T, e *env) {
		e.start()
		a := e.do(req{key: k1, body: payment})
		b := e.do(req{key: k1, body: payment})
		wantStatus(t, a, 201, "Original")
		wantStatus(t, b, 201, "Repeated")
		if !bytes.Equal(a.Body, b.Body) {
			t.Fatalf("bodies differ:\n%s\n%s", a.Body, b.Body)
		}
		for _, h := range []string{"Content-Type", "Location", "X-Execution"} {
			if a.Header.Get(h) == "" || a.Header.Get(h) != b.Header.Get(h) {
				t.Fatalf("%s: original %q, replay %q", h, a.Header.Get(h), b.Header.Get(h))
			}
		}
		if got := strings.Join(b.Header.Values("X-Multi"), ","); got != "one,two" {
			t.Fatalf("multi-valued header replayed as %q", got)
		}
		if a.Header.Get("Set-Cookie") == "" || b.Header.Get("Set-Cookie") != "" {
			t.Fatalf("Set-Cookie: original %q, replay %q (must not be replayed)", a.Header.Get("Set-Cookie"), b.Header.Get("Set-Cookie"))
		}
		if b.Header.Get("Idempotent-Replayed") != "" {
			t.Fatal("Idempotent-Replayed sent without the option")
		}
	}},
	{name: "Step10_ReplayedHeaderAndAllowlist", run: func(t *testing.T, e *env) {
		e.start(core.WithReplayedHeader(true), core.WithReplayHeaders("Location"))
		a := e.do(req{key: k1, body: payment})
		b := e.do(req{key: k1, body: payment})
		if a.Header.Get("Idempotent-Replayed") != "" || b.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("Idempotent-Replayed: original %q, replay %q", a.Header.Get("Idempotent-Replayed"), b.Header.Get("Idempotent-Replayed"))
		}
		if b.Header.Get("Location") != "/items/1" || b.Header.Get("X-Execution") != "" || b.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("allowlist not applied: %v", b.Header)
		}
	}},

	// Step 11: store failure.
	{name: "Step11_StoreDownFailsClosed", run: func(t *testing.T, e *env) {
		fs := &FlakyStore{Store: e.newStore()}
		e.startStore(fs)
		fs.SetDown(true)
		r := e.do(req{key: k1, body: payment})
		wantProblem(t, r, 503, core.ProblemStoreUnavailable)
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
		e.wantCount("items", 0)
		fs.SetDown(false)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
	}},
	{name: "Step11_StoreDownFailsOpen", run: func(t *testing.T, e *env) {
		fs := &FlakyStore{Store: e.newStore()}
		e.startStore(fs, core.WithFailOpen(true))
		fs.SetDown(true)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "")
		e.wantCount("items", 2)
	}},

	// Step 12: errors.
	{name: "Step12_CustomErrorResponder", run: func(t *testing.T, e *env) {
		e.start(core.WithErrorResponder(core.ErrorResponderFunc(func(r core.Request, p *core.Problem) (core.Response, error) {
			return core.Response{Status: p.Status, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("custom " + string(p.Kind))}, nil
		})))
		r := e.do(req{body: payment})
		if r.Status != 400 || string(r.Body) != "custom missing-key" || r.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("custom responder not used: %d %q", r.Status, r.Body)
		}
	}},
	{name: "Step12_ResponderErrorGoesToTheFramework", run: func(t *testing.T, e *env) {
		// A responder that returns an error writes nothing itself: the
		// adapter hands the error to its framework, whose error handling
		// answers. Whatever it answers, it is no success, and the
		// handler never runs.
		e.start(core.WithErrorResponder(core.ErrorResponderFunc(func(core.Request, *core.Problem) (core.Response, error) {
			return core.Response{}, errors.New("refused")
		})))
		r := e.do(req{body: payment})
		if r.Status < 400 || r.Header.Get("Idempotency-Status") != "" {
			t.Fatalf("refusal through the framework's error handling = %d %q, want an error status", r.Status, r.Body)
		}
		e.wantCount("items", 0)
	}},
	{name: "Step2_ExtensionPointsSeeOnlyTheReadOnlyRequest", run: func(t *testing.T, e *env) {
		// A key extractor, skip func, scope or user resolver gets the
		// read-only Request: it can never run the handler or reply.
		var leaks atomic.Int32
		check := func(r core.Request) {
			if _, ok := r.(core.Exchange); ok {
				leaks.Add(1)
			}
		}
		e.start(
			core.WithSkip(func(r core.Request) bool { check(r); return false }),
			core.WithKeyExtractor(core.KeyExtractorFunc(func(r core.Request) (string, bool, error) {
				check(r)
				return core.HeaderKey(core.DefaultHeaderName).ExtractKey(r)
			})),
			core.WithUserResolver(func(r core.Request) string { check(r); return "" }),
		)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		if n := leaks.Load(); n != 0 {
			t.Fatalf("%d extension point calls received a core.Exchange", n)
		}
	}},

	// Per-route options, TTL and stacking.
	{name: "Options_TagTTL", run: func(t *testing.T, e *env) {
		e.start(core.Tag("ttl=300ms,lease=100ms"))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		time.Sleep(700 * time.Millisecond)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		e.wantCount("items", 2)
	}},
	{name: "Options_StackedMiddlewaresClaimOnce", run: func(t *testing.T, e *env) {
		e.startNested(nil, []core.Option{core.Tag("wait=0s")})
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Options_StackedOuterPassedThroughInnerPasses", run: func(t *testing.T, e *env) {
		// The outer middleware enters, finds no key on its optional route
		// and passes the request through: the inner one, which requires a
		// key, must not refuse it (one middleware handles a request).
		e.startNested([]core.Option{core.Tag("optional")}, nil)
		wantStatus(t, e.do(req{body: payment}), 201, "")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 2)
	}},
	{name: "Options_LeaseRenewedForSlowHandlers", run: func(t *testing.T, e *env) {
		e.start(core.Tag("lease=100ms,wait=0s"))
		done := make(chan Reply)
		go func() { done <- e.do(req{key: k1, body: payment, path: "/items/1?delay=450ms"}) }()
		time.Sleep(300 * time.Millisecond) // three leases later, still owned
		wantProblem(t, e.do(req{key: k1, body: payment, path: "/items/1?delay=450ms"}), 409, core.ProblemInFlight)
		wantStatus(t, <-done, 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment, path: "/items/1?delay=450ms"}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Concurrency_ManyKeysManyUsers", run: func(t *testing.T, e *env) {
		e.start()
		keys := []string{k1, k2, "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a003"}
		var wg sync.WaitGroup
		for _, k := range keys {
			for _, u := range []string{"alice", "bob"} {
				wg.Add(1)
				go func(k, u string) {
					defer wg.Done()
					for _, r := range e.parallel(20, req{key: k, body: payment, user: u, path: "/items/1?delay=50ms"}) {
						if r.Status != 201 {
							t.Errorf("status %d %s", r.Status, r.Body)
						}
					}
				}(k, u)
			}
		}
		wg.Wait()
		e.wantCount("items", len(keys)*2)
	}},
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
