// Package apptest is the behaviour every framework app of the examples
// must show, as one test suite that each example server (examples/gin,
// echo, fiber: the router its main.go wires) and each in-process app of
// the demo (ginapp, echoapp, fiberapp) runs against its own router. That
// they all pass the same suite, with the same routes (CheckRoutes), is
// what keeps them from drifting apart.
package apptest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

// App sends one request to an app in process and returns the response
// with its body read.
type App func(req *http.Request) *Reply

// Reply is a response, read whole.
type Reply struct {
	Code   int
	Header http.Header
	Body   string
}

// Handler returns the App of an http.Handler (Gin, Echo).
func Handler(h http.Handler) App {
	return func(req *http.Request) *Reply {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return &Reply{Code: w.Code, Header: w.Header(), Body: w.Body.String()}
	}
}

// Response returns the App of a func that answers an *http.Response
// (Fiber's app.Test).
func Response(t testing.TB, do func(req *http.Request) (*http.Response, error)) App {
	return func(req *http.Request) *Reply {
		resp, err := do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return &Reply{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
	}
}

// Build returns the app under test on store, counting in s, with extra
// options for every route; an error fails the test.
type Build func(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) App

// Key is a valid idempotency key.
const Key = "2f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"

// Do sends method target with a JSON body and header pairs (name, value,
// ...) to app.
func Do(app App, method, target, body string, hdr ...string) *Reply {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] != "" {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return app(req)
}

// Run runs the suite against the apps build returns.
func Run(t *testing.T, build Build) {
	newApp := func(t *testing.T) (App, *shop.Shop) {
		t.Helper()
		s := shop.New()
		return build(t, memory.New(), s), s
	}
	t.Run("PaymentsReplayAndStats", func(t *testing.T) {
		app, _ := newApp(t)
		const body = `{"amount":1000,"currency":"EUR"}`
		first := Do(app, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "alice")
		if first.Code != http.StatusCreated || first.Header.Get("Idempotency-Status") != "Original" {
			t.Fatalf("first: %d %q %s", first.Code, first.Header.Get("Idempotency-Status"), first.Body)
		}
		if want := `{"id":"pay_1","amount":1000,"currency":"EUR","user":"alice"}`; first.Body != want {
			t.Errorf("first body %s, want %s", first.Body, want)
		}
		if got := first.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
			t.Errorf("Content-Type %q", got)
		}
		if first.Header.Get("Set-Cookie") == "" {
			t.Error("first response has no Set-Cookie")
		}

		again := Do(app, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "alice")
		if again.Code != http.StatusCreated || again.Header.Get("Idempotency-Status") != "Repeated" {
			t.Fatalf("replay: %d %q %s", again.Code, again.Header.Get("Idempotency-Status"), again.Body)
		}
		if again.Body != first.Body {
			t.Errorf("replay body %s, want %s", again.Body, first.Body)
		}
		if got := again.Header.Get("Location"); got != "/payments/pay_1" {
			t.Errorf("replay Location %q", got)
		}
		if got := again.Header.Get("Content-Type"); got != first.Header.Get("Content-Type") {
			t.Errorf("replay Content-Type %q", got)
		}
		if got := again.Header.Get("Set-Cookie"); got != "" {
			t.Errorf("replay carries Set-Cookie %q", got)
		}

		stats := Do(app, "GET", "/stats", "")
		if want := `{"executions":{"payments":1,"refunds":0,"votes":0,"webhooks":0,"exports":0}}`; stats.Code != 200 || stats.Body != want {
			t.Errorf("stats: %d %s, want %s", stats.Code, stats.Body, want)
		}
		if got := stats.Header.Get("Idempotency-Status"); got != "" {
			t.Errorf("GET /stats went through the middleware: Idempotency-Status %q", got)
		}
	})

	// The default scope user_route keeps users and routes apart: the same
	// key from another user, or on /refunds, runs again.
	t.Run("Scopes", func(t *testing.T) {
		app, s := newApp(t)
		const body = `{"amount":1,"currency":"EUR"}`
		for _, tc := range []struct{ path, user string }{
			{"/payments", "alice"}, {"/payments", "bob"}, {"/payments", ""}, {"/refunds", "alice"},
		} {
			w := Do(app, "POST", tc.path, body, "Idempotency-Key", Key, shop.UserHeader, tc.user)
			if w.Code != http.StatusCreated || w.Header.Get("Idempotency-Status") != "Original" {
				t.Errorf("%s as %q: %d %q", tc.path, tc.user, w.Code, w.Header.Get("Idempotency-Status"))
			}
		}
		if got := s.Snapshot().Executions; got.Payments != 3 || got.Refunds != 1 {
			t.Errorf("executions %+v", got)
		}
		w := Do(app, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", Key)
		if want := `"user":"guest"`; !strings.Contains(w.Body, want) || w.Header.Get("Idempotency-Status") != "Repeated" {
			t.Errorf("anonymous replay: %q %s", w.Header.Get("Idempotency-Status"), w.Body)
		}
	})

	t.Run("RouteOptions", func(t *testing.T) {
		app, s := newApp(t)
		// Payments require a UUID key; refusals are problem+json.
		for _, key := range []string{"", "not-a-uuid"} {
			w := Do(app, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", key)
			if w.Code != 400 || !strings.HasPrefix(w.Header.Get("Content-Type"), "application/problem+json") {
				t.Errorf("payment with key %q: %d %q", key, w.Code, w.Header.Get("Content-Type"))
			}
		}
		// Votes: key optional.
		for range 2 {
			if w := Do(app, "POST", "/votes", ""); w.Code != 201 || w.Header.Get("Idempotency-Status") != "" {
				t.Errorf("vote without key: %d %q", w.Code, w.Header.Get("Idempotency-Status"))
			}
		}
		// Webhooks: any token in X-Webhook-ID, payload not compared.
		w1 := Do(app, "POST", "/webhooks", `{"n":1}`, shop.WebhookHeader, "evt_123")
		w2 := Do(app, "POST", "/webhooks", `{"n":2}`, shop.WebhookHeader, "evt_123")
		if w1.Code != 200 || w2.Code != 200 || w2.Header.Get("Idempotency-Status") != "Repeated" || w2.Body != `{"received":"evt_123"}` {
			t.Errorf("webhooks: %d, %d %q %s", w1.Code, w2.Code, w2.Header.Get("Idempotency-Status"), w2.Body)
		}
		if got := s.Snapshot().Executions; got != (shop.Counts{Votes: 2, Webhooks: 1}) {
			t.Errorf("executions %+v", got)
		}
	})

	// A 4xx validation answer is stored like any cacheable response; a 5xx
	// and a panic release the key so a retry runs again.
	t.Run("ErrorsCachedOrReleased", func(t *testing.T) {
		app, s := newApp(t)
		for i := range 2 {
			w := Do(app, "POST", "/payments", `{"amount":0,"currency":"EUR"}`, "Idempotency-Key", Key)
			if want := []string{"Original", "Repeated"}[i]; w.Code != 400 || w.Header.Get("Idempotency-Status") != want {
				t.Errorf("amount 0, try %d: %d %q", i, w.Code, w.Header.Get("Idempotency-Status"))
			}
		}
		if n := s.Executions(shop.Payments); n != 1 {
			t.Errorf("400 not replayed: %d executions", n)
		}

		const other = "3f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"
		for i := range 2 {
			w := Do(app, "POST", "/payments?fail=500", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", other)
			if w.Code != 500 || w.Header.Get("Idempotency-Status") != "Original" {
				t.Errorf("fail=500 try %d: %d %q", i, w.Code, w.Header.Get("Idempotency-Status"))
			}
		}
		const third = "4f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"
		for i := range 2 {
			if w := Do(app, "POST", "/payments?panic=1", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", third); w.Code != 500 {
				t.Errorf("panic try %d: %d", i, w.Code)
			} else if strings.Contains(w.Body, "simulated panic") {
				t.Errorf("panic try %d: the 500 shows the panic: %s", i, w.Body)
			}
		}
		if n := s.Executions(shop.Payments); n != 5 {
			t.Errorf("executions %d, want 5 (1 cached 400, 2 failures, 2 panics)", n)
		}
		// After the panics the key is free: the same request succeeds.
		if w := Do(app, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", third); w.Code != 201 {
			t.Errorf("after the panics: %d %s", w.Code, w.Body)
		}
	})

	t.Run("BodyLimits", func(t *testing.T) {
		// A lower engine limit than the default 10 MiB keeps the test
		// fast; fiberapp checks that Fiber's own limit is above the
		// default.
		const engineLimit = 4 * shop.MaxBodyBytes
		s := shop.New()
		app := build(t, memory.New(), s, core.WithMaxBodyBytes(engineLimit))
		// Over the shop's limit: the handler refuses it without running;
		// the 413 is cacheable like any 4xx.
		big := `{"amount":1,"currency":"EUR","pad":"` + strings.Repeat("x", shop.MaxBodyBytes) + `"}`
		w := Do(app, "POST", "/payments", big, "Idempotency-Key", Key)
		if w.Code != http.StatusRequestEntityTooLarge || w.Header.Get("Idempotency-Status") != "Original" {
			t.Errorf("body over the shop's limit: %d %q %s", w.Code, w.Header.Get("Idempotency-Status"), w.Body)
		}
		// Over the engine's MaxBodyBytes: the middleware refuses it.
		huge := strings.Repeat(" ", engineLimit+1)
		w = Do(app, "POST", "/payments", huge, "Idempotency-Key", "5f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a")
		if w.Code != http.StatusRequestEntityTooLarge || !strings.HasPrefix(w.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("body over MaxBodyBytes: %d %q", w.Code, w.Header.Get("Content-Type"))
		}
		if n := s.Executions(shop.Payments); n != 0 {
			t.Errorf("executions %d, want 0", n)
		}
	})

	// Every response carries an X-Request-Id set outside the idempotency
	// middleware: originals, replays, the middleware's own refusals, a
	// recovered panic, unguarded routes and the framework's 404, each a
	// new id. A replay's is its own, not the stored original's: headers
	// set outside the middleware are neither stored nor replayed.
	t.Run("RequestID", func(t *testing.T) {
		app, _ := newApp(t)
		const body = `{"amount":1,"currency":"EUR"}`
		seen := map[string]string{}
		for _, tc := range []struct {
			name string
			w    *Reply
		}{
			{"original", Do(app, "POST", "/payments", body, "Idempotency-Key", Key)},
			{"replay", Do(app, "POST", "/payments", body, "Idempotency-Key", Key)},
			{"missing key (400 problem)", Do(app, "POST", "/payments", body)},
			{"mismatch (422 problem)", Do(app, "POST", "/payments", `{"amount":2,"currency":"EUR"}`, "Idempotency-Key", Key)},
			{"panic (500)", Do(app, "POST", "/payments?panic=1", body, "Idempotency-Key", "6f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a")},
			{"vote without key", Do(app, "POST", "/votes", "")},
			{"GET /stats", Do(app, "GET", "/stats", "")},
			{"unmatched route (404)", Do(app, "POST", "/nope", body, "Idempotency-Key", Key)},
		} {
			id := tc.w.Header.Get(shop.RequestIDHeader)
			switch {
			case !strings.HasPrefix(id, "req_"):
				t.Errorf("%s: %d, X-Request-Id %q, want a req_ id", tc.name, tc.w.Code, id)
			case seen[id] != "":
				t.Errorf("%s: X-Request-Id %s was already on %s", tc.name, id, seen[id])
			default:
				seen[id] = tc.name
			}
		}
	})

	// POST /exports streams its answer as server-sent events through the
	// framework's streaming API, under the idempotency middleware: the
	// first response is an Original stream. A streamed response is never
	// stored, so a retry cannot be its replay; it gets a tombstone's 410
	// result-unavailable instead, and the export never runs twice.
	t.Run("ExportsStream", func(t *testing.T) {
		app, s := newApp(t)
		if w := Do(app, "POST", "/exports", "{}"); w.Code != 400 || !strings.HasPrefix(w.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("export without a key: %d %q, want a 400 problem", w.Code, w.Header.Get("Content-Type"))
		}
		if n := s.Executions(shop.Exports); n != 0 {
			t.Fatalf("executions %d before any export ran", n)
		}

		first := Do(app, "POST", "/exports", `{"format":"csv"}`, "Idempotency-Key", Key, shop.UserHeader, "alice")
		if first.Code != http.StatusOK || first.Header.Get("Idempotency-Status") != "Original" {
			t.Fatalf("export: %d %q %s", first.Code, first.Header.Get("Idempotency-Status"), first.Body)
		}
		if got := first.Header.Get("Content-Type"); got != shop.ExportContentType {
			t.Errorf("export Content-Type %q, want %s", got, shop.ExportContentType)
		}
		if err := CheckExportEvents(first.Body, "exp_1"); err != nil {
			t.Errorf("export stream: %v\n%s", err, first.Body)
		}
		if n := s.Executions(shop.Exports); n != 1 {
			t.Errorf("executions %d after one export, want 1", n)
		}
		if w := Do(app, "GET", "/stats", ""); !strings.Contains(w.Body, `"exports":1}`) {
			t.Errorf("stats after one export: %s", w.Body)
		}

		retry := Do(app, "POST", "/exports", `{"format":"csv"}`, "Idempotency-Key", Key, shop.UserHeader, "alice")
		if IsStreamReplay(retry) {
			t.Errorf("retry of a streamed export replayed a stored copy: %d %q %q %s",
				retry.Code, retry.Header.Get("Idempotency-Status"), retry.Header.Get("Content-Type"), retry.Body)
		}
		// 410: not a status that well-behaved clients retry (408, 409,
		// 425, 429, 5xx), since no retry can ever get the result.
		if err := CheckProblem(retry, http.StatusGone, core.ProblemResultUnavailable); err != nil {
			t.Errorf("retry of the export: %v", err)
		}
		if n := s.Executions(shop.Exports); n != 1 {
			t.Errorf("executions %d after the retry, want 1: the export ran again", n)
		}
	})

	// Payments declare their effects just before charging, through the
	// context each app hands the shop; effects=1 declares them before the
	// failure switches, playing a handler that fails after the charge. A
	// failure before the declaration releases the key (a retry runs
	// again); one after it leaves the key uncertain: retries get 423
	// operation-uncertain and nothing runs until an operator resolves it.
	t.Run("EffectsRefused", func(t *testing.T) {
		store := &refuseCommit{Store: memory.New()}
		store.refuse.Store(true)
		s := shop.New()
		app := build(t, store, s)
		const body = `{"amount":1,"currency":"EUR"}`
		w := Do(app, "POST", "/payments", body, "Idempotency-Key", Key)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body, "not charged") {
			t.Errorf("effects refused: %d %s, want 503 not charged", w.Code, w.Body)
		}
		store.refuse.Store(false)
		w = Do(app, "POST", "/payments", body, "Idempotency-Key", Key)
		if w.Code != http.StatusCreated || w.Header.Get("Idempotency-Status") != "Original" || !strings.Contains(w.Body, `"pay_1"`) {
			t.Errorf("retry: %d %q %s, want 201 Original pay_1", w.Code, w.Header.Get("Idempotency-Status"), w.Body)
		}
		if n := s.Executions(shop.Payments); n != 2 {
			t.Errorf("executions %d, want 2", n)
		}
	})

	// With a derived-key secret, payments show the provider key they
	// would send: the same on the run after a released failure, on the
	// replay, and on another app sharing the secret; another key, user or
	// route gets another one. Without a secret there is none.
	t.Run("ProviderKey", func(t *testing.T) {
		secret := core.WithDerivedKeySecret([]byte("0123456789abcdef"))
		s := shop.New()
		app := build(t, memory.New(), s, secret)
		const body = `{"amount":1,"currency":"EUR"}`
		pk := func(w *Reply) string { return w.Header.Get(shop.ProviderKeyHeader) }
		failed := Do(app, "POST", "/payments?fail=500", body, "Idempotency-Key", Key, shop.UserHeader, "alice")
		first := Do(app, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "alice")
		replay := Do(app, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "alice")
		if failed.Code != 500 || first.Code != 201 || first.Header.Get("Idempotency-Status") != "Original" || replay.Header.Get("Idempotency-Status") != "Repeated" {
			t.Fatalf("fail=500, then twice plain: %d, %d %q, %d %q", failed.Code,
				first.Code, first.Header.Get("Idempotency-Status"), replay.Code, replay.Header.Get("Idempotency-Status"))
		}
		k := pk(first)
		if len(k) != 36 || pk(failed) != k || pk(replay) != k {
			t.Errorf("provider keys: failed run %q, re-run %q, replay %q; want one UUID", pk(failed), k, pk(replay))
		}
		other := build(t, memory.New(), shop.New(), secret)
		if w := Do(other, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "alice"); pk(w) != k {
			t.Errorf("another instance with the secret derived %q, want %q", pk(w), k)
		}
		seen := map[string]string{k: "alice's payment"}
		for name, w := range map[string]*Reply{
			"bob's payment":  Do(app, "POST", "/payments", body, "Idempotency-Key", Key, shop.UserHeader, "bob"),
			"alice's refund": Do(app, "POST", "/refunds", body, "Idempotency-Key", Key, shop.UserHeader, "alice"),
			"another key":    Do(app, "POST", "/payments", body, "Idempotency-Key", "7f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a", shop.UserHeader, "alice"),
		} {
			if w.Code != 201 || pk(w) == "" || seen[pk(w)] != "" {
				t.Errorf("%s: %d, provider key %q (also %s's)", name, w.Code, pk(w), seen[pk(w)])
			}
			seen[pk(w)] = name
		}
		plain := build(t, memory.New(), shop.New())
		if w := Do(plain, "POST", "/payments", body, "Idempotency-Key", Key); w.Code != 201 || pk(w) != "" {
			t.Errorf("without a secret: %d, provider key %q, want none", w.Code, pk(w))
		}
	})

	// The extra options reach every idempotent route.
	t.Run("ExtraOptions", func(t *testing.T) {
		rec := &recorder{}
		app := build(t, memory.New(), shop.New(), core.WithTelemetry(rec))
		Do(app, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", Key)
		Do(app, "POST", "/refunds", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", Key)
		Do(app, "POST", "/votes", "")
		Do(app, "POST", "/webhooks", "", shop.WebhookHeader, "evt_1")
		Do(app, "POST", "/exports", "{}", "Idempotency-Key", Key)
		Do(app, "GET", "/stats", "")
		if got := rec.routes(); got != "POST /payments,POST /refunds,POST /votes,POST /webhooks,POST /exports" {
			t.Errorf("measured routes %q", got)
		}
	})
}

// CheckMetrics sends a first payment and its replay to app, then checks
// that GET /metrics counts one original and one repeated request, one
// cache miss and one hit.
func CheckMetrics(t *testing.T, app App) {
	t.Helper()
	for range 2 {
		Do(app, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", Key)
	}
	m := Do(app, "GET", "/metrics", "")
	if m.Code != http.StatusOK || !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", m.Code, m.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`idempotency_requests_total{method="POST",outcome="original",route="/payments"} 1`,
		`idempotency_requests_total{method="POST",outcome="repeated",route="/payments"} 1`,
		`idempotency_cache_total{result="hit"} 1`,
		`idempotency_cache_total{result="miss"} 1`,
	} {
		if !strings.Contains(m.Body, want+"\n") {
			t.Errorf("GET /metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("metrics:\n%s", m.Body)
	}
}

// CheckNewErrors checks that an app constructor refuses a nil store, a
// nil shop and an invalid option instead of building a half-wired app.
func CheckNewErrors(t *testing.T, newApp func(core.Store, *shop.Shop, ...core.Option) error) {
	t.Helper()
	if err := newApp(nil, shop.New()); err == nil {
		t.Error("nil store accepted")
	}
	if err := newApp(memory.New(), nil); err == nil {
		t.Error("nil shop accepted")
	}
	if err := newApp(memory.New(), shop.New(), core.WithTTL(-1)); err == nil {
		t.Error("invalid option accepted")
	}
}

// CheckExportEvents checks that body is the event stream of export id:
// shop.ExportSteps "progress" events, each with its id and a data line
// {"export":id,"step":n,"of":shop.ExportSteps}, in order.
func CheckExportEvents(body, id string) error {
	events := strings.Split(body, "\n\n")
	if len(events) != shop.ExportSteps+1 || events[shop.ExportSteps] != "" {
		return fmt.Errorf("%d blank-line separated parts, want %d events and nothing after them", len(events), shop.ExportSteps)
	}
	for i, ev := range events[:shop.ExportSteps] {
		want := fmt.Sprintf("id: %d\nevent: progress\ndata: {\"export\":%q,\"step\":%d,\"of\":%d}", i+1, id, i+1, shop.ExportSteps)
		if ev != want {
			return fmt.Errorf("event %d is %q, want %q", i+1, ev, want)
		}
	}
	return nil
}

// CheckProblem checks that r is the idempotency middleware's RFC 9457
// problem of kind with status: problem+json, its type URI and status in
// the body, not stored (no-store) and no Idempotency-Status, since
// nothing ran.
func CheckProblem(r *Reply, status int, kind core.ProblemKind) error {
	var problems []string
	if r.Code != status {
		problems = append(problems, fmt.Sprintf("status %d, want %d", r.Code, status))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		problems = append(problems, fmt.Sprintf("Content-Type %q, want application/problem+json", ct))
	}
	if want := fmt.Sprintf(`"type":%q`, core.ProblemTypeBase+string(kind)); !strings.Contains(r.Body, want) {
		problems = append(problems, "body lacks "+want)
	}
	if want := fmt.Sprintf(`"status":%d`, status); !strings.Contains(r.Body, want) {
		problems = append(problems, "body lacks "+want)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		problems = append(problems, fmt.Sprintf("Cache-Control %q, want no-store", cc))
	}
	if st := r.Header.Get("Idempotency-Status"); st != "" {
		problems = append(problems, fmt.Sprintf("Idempotency-Status %q on a refusal", st))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s (%s)", strings.Join(problems, "; "), r.Body)
	}
	return nil
}

// IsStreamReplay reports whether r is a stored copy of an event stream
// replayed by the idempotency middleware, which a streamed response must
// never become.
func IsStreamReplay(r *Reply) bool {
	return r.Header.Get("Idempotency-Status") == "Repeated" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), shop.ExportContentType)
}
