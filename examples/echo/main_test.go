package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

// router is the server's router (newRouter) on store, counting in s.
func router(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) *echo.Echo {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), store)
	if err != nil {
		t.Fatal(err)
	}
	env.Shop, env.Extra = s, extra
	e := newRouter(env)
	e.Logger.SetOutput(io.Discard) // the panic test's stack trace
	return e
}

func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	return apptest.Handler(router(t, store, s, extra...))
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
	for _, rt := range router(t, memory.New(), shop.New()).Routes() {
		got = append(got, rt.Method+" "+rt.Path)
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
	apptest.RunBare(t, apptest.Handler(newRouter(env)), func() int64 { return env.Shop.Executions(shop.Payments) })
}
