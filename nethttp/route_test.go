package idemhttp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	"github.com/idemkit/idempotency/storage/memory"
)

const key = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a001"

// post sends a POST with the key (when not "") through h.
func post(h http.Handler, path, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{"a":1}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func created(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write([]byte("created"))
}

// The route of a route-level middleware is the pattern ServeMux matched,
// without its method, however the method is separated; host and
// wildcards stay.
func TestRouteIsPatternWithoutMethod(t *testing.T) {
	for _, tc := range []struct{ pattern, path, route string }{
		{"POST /items/{id}", "/items/1", "/items/{id}"},
		{"POST \t /tabs/{id}", "/tabs/1", "/tabs/{id}"},
		{"/any/{id}", "/any/1", "/any/{id}"},
		{"/subtree/", "/subtree/a/b", "/subtree/"},
		{"POST example.com/host/{x}", "http://example.com/host/1", "example.com/host/{x}"},
		{"POST /exact/{$}", "/exact/", "/exact/{$}"},
	} {
		rec := &coretest.Recorder{}
		mux := http.NewServeMux()
		mux.Handle(tc.pattern, idemhttp.New(core.WithStore(memory.New()), core.WithTelemetry(rec))(http.HandlerFunc(created)))
		if w := post(mux, tc.path, key); w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "Original" {
			t.Errorf("%q: %d %q, want 201 Original", tc.pattern, w.Code, w.Header().Get("Idempotency-Status"))
			continue
		}
		if ms := rec.Measurements(); len(ms) != 1 || ms[0].Route != tc.route {
			t.Errorf("%q: measurements %+v, want the route %q", tc.pattern, ms, tc.route)
		}
	}
}

// A middleware wrapping a whole mux runs before the mux matched: without
// WithRoute every request passes through untouched (no route is known);
// with MuxRoute the mux names the route, and what the mux answers itself
// (404, 405, its redirects to the canonical path) still passes through
// untouched: a redirect claimed would be stored, and its key spent.
func TestMuxRoute(t *testing.T) {
	newMux := func() *http.ServeMux {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /items/{id}", created)
		mux.HandleFunc("GET /only-get", created)
		mux.HandleFunc("POST /legacy/", created)
		return mux
	}

	mux := newMux()
	bare := idemhttp.New(core.WithStore(memory.New()))(mux)
	if w := post(bare, "/items/1", key); w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "" {
		t.Fatalf("wrapping a mux without WithRoute: %d %q, want the handler's 201 untouched", w.Code, w.Header().Get("Idempotency-Status"))
	}

	mux = newMux()
	rec := &coretest.Recorder{}
	h := idemhttp.New(core.WithStore(memory.New()), core.WithTelemetry(rec), idemhttp.WithRoute(idemhttp.MuxRoute(mux)))(mux)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/nope", http.StatusNotFound},
		{"/only-get", http.StatusMethodNotAllowed},
		{"//items/1", http.StatusTemporaryRedirect}, // not canonical
		{"/items/./1", http.StatusTemporaryRedirect},
		{"/legacy", http.StatusTemporaryRedirect}, // the subtree's trailing slash
	} {
		w := post(h, tc.path, key)
		if w.Code != tc.status || w.Header().Get("Idempotency-Status") != "" {
			t.Errorf("%s: %d %q, want the mux's %d untouched", tc.path, w.Code, w.Header().Get("Idempotency-Status"), tc.status)
		}
	}
	if ms := rec.Measurements(); len(ms) != 0 {
		t.Fatalf("requests the mux answered itself were measured: %+v", ms)
	}
	for _, tc := range []struct{ path, route, idem string }{
		{"/items/1", "/items/{id}", "Original"},
		{"/items/1", "/items/{id}", "Repeated"},
		{"/legacy/a", "/legacy/", "Original"},
	} {
		if w := post(h, tc.path, key); w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != tc.idem {
			t.Errorf("%s: %d %q, want 201 %s", tc.path, w.Code, w.Header().Get("Idempotency-Status"), tc.idem)
		}
	}
	ms := rec.Measurements()
	if len(ms) != 3 || ms[0].Route != "/items/{id}" || ms[2].Route != "/legacy/" {
		t.Fatalf("measurements %+v, want the mux's patterns without their method", ms)
	}
}

// A middleware wrapping a mux mounted under a pattern sees that mount as
// r.Pattern: WithRoute(MuxRoute(sub)) scopes by the sub-mux's routes
// instead, so one key on two routes under the mount is two operations.
func TestMuxRouteUnderMount(t *testing.T) {
	sub := http.NewServeMux()
	sub.HandleFunc("POST /api/a", created)
	sub.HandleFunc("POST /api/b", created)
	root := http.NewServeMux()
	root.Handle("/api/", idemhttp.New(core.WithStore(memory.New()), idemhttp.WithRoute(idemhttp.MuxRoute(sub)))(sub))
	for _, path := range []string{"/api/a", "/api/b"} {
		if w := post(root, path, key); w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "Original" {
			t.Errorf("%s: %d %q, want 201 Original: each route its own scope", path, w.Code, w.Header().Get("Idempotency-Status"))
		}
	}
}

// WithRoute's getter sees the *http.Request; nil restores r.Pattern.
func TestWithRoute(t *testing.T) {
	var got *http.Request
	h := idemhttp.New(core.WithStore(memory.New()), idemhttp.WithRoute(func(r *http.Request) string {
		got = r
		return "/custom"
	}))(http.HandlerFunc(created))
	req := httptest.NewRequest(http.MethodPost, "/whatever", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if got != req || w.Header().Get("Idempotency-Status") != "Original" {
		t.Fatalf("getter saw %p (request %p), status %q", got, req, w.Header().Get("Idempotency-Status"))
	}

	h = idemhttp.New(core.WithStore(memory.New()), idemhttp.WithRoute(func(*http.Request) string { return "/x" }), idemhttp.WithRoute(nil))(http.HandlerFunc(created))
	if w := post(h, "/whatever", key); w.Header().Get("Idempotency-Status") != "" {
		t.Fatalf("WithRoute(nil) outside a mux: %q, want untouched (no pattern)", w.Header().Get("Idempotency-Status"))
	}
}
