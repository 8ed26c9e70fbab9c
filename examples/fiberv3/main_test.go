package main

import (
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/fiberv3app"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMain(m *testing.M) {
	fiberv3app.ErrorWriter = io.Discard // the panic test's stack trace
	os.Exit(m.Run())
}

// app is the server's app (newApp) on store, counting in s.
func app(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) *fiber.App {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), store)
	if err != nil {
		t.Fatal(err)
	}
	env.Shop, env.Extra = s, extra
	a := newApp(env)
	t.Cleanup(func() { _ = a.Shutdown() })
	return a
}

func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	a := app(t, store, s, extra...)
	return apptest.Response(t, func(req *http.Request) (*http.Response, error) { return a.Test(req, fiber.TestConfig{Timeout: 0}) })
}

// TestApp: the server behaves as every example server must (apptest).
func TestApp(t *testing.T) { apptest.Run(t, build) }

// TestEffects: nothing that ran runs again, on both stores.
func TestEffects(t *testing.T) {
	for name, newStore := range apptest.Stores(t) {
		t.Run(name, func(t *testing.T) { apptest.RunEffects(t, build, newStore) })
	}
}

func TestRoutes(t *testing.T) {
	var got []string
	for _, rt := range app(t, memory.New(), shop.New()).GetRoutes(true) {
		if rt.Method != http.MethodHead { // app.Get registers HEAD too
			got = append(got, rt.Method+" "+rt.Path)
		}
	}
	apptest.CheckRoutes(t, got)
}

func TestMetrics(t *testing.T) {
	apptest.CheckMetrics(t, build(t, memory.New(), shop.New()))
}

// TestBare: with -bare (the end-to-end benchmark's baseline) the same
// handlers run without the idempotency middleware.
func TestBare(t *testing.T) {
	env, err := serve.NewEnv(serve.Config{Bare: true}, slog.New(slog.NewTextHandler(io.Discard, nil)), memory.New())
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(env)
	t.Cleanup(func() { _ = a.Shutdown() })
	apptest.RunBare(t, apptest.Response(t, func(req *http.Request) (*http.Response, error) { return a.Test(req, fiber.TestConfig{Timeout: 0}) }), func() int64 { return env.Shop.Executions(shop.Payments) })
}
