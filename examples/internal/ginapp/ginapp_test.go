package ginapp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	gin.DefaultErrorWriter = io.Discard // the panic test's stack trace
	os.Exit(m.Run())
}

const key = "2f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"

func newApp(t *testing.T) (*gin.Engine, *shop.Shop) {
	t.Helper()
	s := shop.New()
	r, err := New(memory.New(), s)
	if err != nil {
		t.Fatal(err)
	}
	return r, s
}

func do(r http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestPaymentsReplayAndStats(t *testing.T) {
	r, _ := newApp(t)
	const body = `{"amount":1000,"currency":"EUR"}`
	first := do(r, "POST", "/payments", body, "Idempotency-Key", key, shop.UserHeader, "alice")
	if first.Code != http.StatusCreated || first.Header().Get("Idempotency-Status") != "Original" {
		t.Fatalf("first: %d %q %s", first.Code, first.Header().Get("Idempotency-Status"), first.Body)
	}
	if want := `{"id":"pay_1","amount":1000,"currency":"EUR","user":"alice"}`; first.Body.String() != want {
		t.Errorf("first body %s, want %s", first.Body, want)
	}
	if first.Header().Get("Set-Cookie") == "" {
		t.Error("first response has no Set-Cookie")
	}

	again := do(r, "POST", "/payments", body, "Idempotency-Key", key, shop.UserHeader, "alice")
	if again.Code != http.StatusCreated || again.Header().Get("Idempotency-Status") != "Repeated" {
		t.Fatalf("replay: %d %q %s", again.Code, again.Header().Get("Idempotency-Status"), again.Body)
	}
	if again.Body.String() != first.Body.String() {
		t.Errorf("replay body %s, want %s", again.Body, first.Body)
	}
	if got := again.Header().Get("Location"); got != "/payments/pay_1" {
		t.Errorf("replay Location %q", got)
	}
	if got := again.Header().Get("Set-Cookie"); got != "" {
		t.Errorf("replay carries Set-Cookie %q", got)
	}

	stats := do(r, "GET", "/stats", "")
	if want := `{"executions":{"payments":1,"refunds":0,"votes":0,"webhooks":0}}`; stats.Code != 200 || stats.Body.String() != want {
		t.Errorf("stats: %d %s, want %s", stats.Code, stats.Body, want)
	}
	if got := stats.Header().Get("Idempotency-Status"); got != "" {
		t.Errorf("GET /stats went through the middleware: Idempotency-Status %q", got)
	}
}

// The default scope user_route keeps users and routes apart: the same key
// from another user, or on /refunds, runs again.
func TestScopes(t *testing.T) {
	r, s := newApp(t)
	const body = `{"amount":1,"currency":"EUR"}`
	for _, tc := range []struct{ path, user string }{
		{"/payments", "alice"}, {"/payments", "bob"}, {"/payments", ""}, {"/refunds", "alice"},
	} {
		w := do(r, "POST", tc.path, body, "Idempotency-Key", key, shop.UserHeader, tc.user)
		if w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "Original" {
			t.Errorf("%s as %q: %d %q", tc.path, tc.user, w.Code, w.Header().Get("Idempotency-Status"))
		}
	}
	if got := s.Snapshot().Executions; got.Payments != 3 || got.Refunds != 1 {
		t.Errorf("executions %+v", got)
	}
}

func TestRouteOptions(t *testing.T) {
	r, s := newApp(t)
	// Payments require a UUID key.
	if w := do(r, "POST", "/payments", `{"amount":1,"currency":"EUR"}`); w.Code != 400 {
		t.Errorf("payment without key: %d", w.Code)
	}
	if w := do(r, "POST", "/payments", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", "not-a-uuid"); w.Code != 400 {
		t.Errorf("payment with a bad key: %d", w.Code)
	}
	// Votes: key optional.
	for range 2 {
		if w := do(r, "POST", "/votes", ""); w.Code != 201 || w.Header().Get("Idempotency-Status") != "" {
			t.Errorf("vote without key: %d %q", w.Code, w.Header().Get("Idempotency-Status"))
		}
	}
	// Webhooks: any token in X-Webhook-ID, payload not compared.
	w1 := do(r, "POST", "/webhooks", `{"n":1}`, shop.WebhookHeader, "evt_123")
	w2 := do(r, "POST", "/webhooks", `{"n":2}`, shop.WebhookHeader, "evt_123")
	if w1.Code != 200 || w2.Code != 200 || w2.Header().Get("Idempotency-Status") != "Repeated" || w2.Body.String() != `{"received":"evt_123"}` {
		t.Errorf("webhooks: %d, %d %q %s", w1.Code, w2.Code, w2.Header().Get("Idempotency-Status"), w2.Body)
	}
	if got := s.Snapshot().Executions; got != (shop.Counts{Votes: 2, Webhooks: 1}) {
		t.Errorf("executions %+v", got)
	}
}

// A 4xx validation answer is stored like any cacheable response; a 5xx
// and a panic release the key so a retry runs again.
func TestErrorsCachedOrReleased(t *testing.T) {
	r, s := newApp(t)
	hdr := []string{"Idempotency-Key", key}
	for range 2 {
		do(r, "POST", "/payments", `{"amount":0,"currency":"EUR"}`, hdr...)
	}
	if n := s.Executions(shop.Payments); n != 1 {
		t.Errorf("400 not replayed: %d executions", n)
	}

	const other = "3f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"
	for i := range 2 {
		w := do(r, "POST", "/payments?fail=500", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", other)
		if w.Code != 500 || w.Header().Get("Idempotency-Status") != "Original" {
			t.Errorf("fail=500 try %d: %d %q", i, w.Code, w.Header().Get("Idempotency-Status"))
		}
	}
	const third = "4f1c3b9e-7a4d-4c1e-9b7f-0d6a5e3c2b1a"
	for i := range 2 {
		if w := do(r, "POST", "/payments?panic=1", `{"amount":1,"currency":"EUR"}`, "Idempotency-Key", third); w.Code != 500 {
			t.Errorf("panic try %d: %d", i, w.Code)
		}
	}
	if n := s.Executions(shop.Payments); n != 5 {
		t.Errorf("executions %d, want 5 (1 cached 400, 2 failures, 2 panics)", n)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, shop.New()); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := New(memory.New(), nil); err == nil {
		t.Error("nil shop accepted")
	}
	if _, err := New(memory.New(), shop.New(), core.WithTTL(-1)); err == nil {
		t.Error("invalid option accepted")
	}
}
