package main

import (
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMain(m *testing.M) {
	gin.DefaultErrorWriter = io.Discard // the panic test's stack trace
	os.Exit(m.Run())
}

// build is the server's router (newRouter) on store, counting in s.
func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), store)
	if err != nil {
		t.Fatal(err)
	}
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

func TestRoutes(t *testing.T) {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), memory.New())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rt := range newRouter(env).Routes() {
		got = append(got, rt.Method+" "+rt.Path)
	}
	apptest.CheckRoutes(t, got)
}

func TestMetrics(t *testing.T) {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), memory.New())
	if err != nil {
		t.Fatal(err)
	}
	apptest.CheckMetrics(t, apptest.Handler(newRouter(env)))
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
