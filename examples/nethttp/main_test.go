package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func newEnv(t *testing.T, cfg serve.Config, store core.Store) *serve.Env {
	t.Helper()
	env, err := serve.NewEnv(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), store)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// build is the server's handler (newRouter) on store, counting in s.
func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	env := newEnv(t, serve.Config{}, store)
	env.Shop, env.Extra = s, extra
	return apptest.Handler(newRouter(env))
}

// TestApp: the server behaves as every example server must (apptest).
func TestApp(t *testing.T) { apptest.Run(t, build) }

// TestEffects: nothing that ran runs again, on both stores.
func TestEffects(t *testing.T) {
	for name, newStore := range apptest.Stores(t) {
		t.Run(name, func(t *testing.T) { apptest.RunEffects(t, build, newStore) })
	}
}

// TestRoutes: http.ServeMux cannot list its routes, so each route is
// looked up the way the mux dispatches (mux.Handler): every route of
// shop.Routes() and GET /metrics are registered under exactly that
// pattern, and the same paths under another method match nothing
// (an extra "POST /stats" would).
func TestRoutes(t *testing.T) {
	mux := newMux(newEnv(t, serve.Config{}, memory.New()))
	var got []string
	paths := map[string]bool{serve.MetricsPath: true}
	for _, rt := range shop.Routes() {
		paths[rt.Path] = true
	}
	for path := range paths {
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if _, p := mux.Handler(httptest.NewRequest(m, path, nil)); p != "" {
				if p != m+" "+path {
					t.Errorf("%s %s matched the pattern %q", m, path, p)
				}
				got = append(got, p)
			}
		}
	}
	apptest.CheckRoutes(t, got)
}

func TestMetrics(t *testing.T) {
	apptest.CheckMetrics(t, apptest.Handler(newRouter(newEnv(t, serve.Config{}, memory.New()))))
}

// TestBare: with -bare (the end-to-end benchmark's baseline) the same
// handlers run without the idempotency middleware.
func TestBare(t *testing.T) {
	env := newEnv(t, serve.Config{Bare: true}, memory.New())
	apptest.RunBare(t, apptest.Handler(newRouter(env)), func() int64 { return env.Shop.Executions(shop.Payments) })
}
