package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

// router is the server's router (newRouter) on store, counting in s,
// logging to log.
func router(t *testing.T, log io.Writer, store core.Store, s *shop.Shop, extra ...core.Option) *echo.Echo {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(log, nil)), store)
	if err != nil {
		t.Fatal(err)
	}
	env.Shop, env.Extra = s, extra
	return newRouter(env)
}

func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	return apptest.Handler(router(t, io.Discard, store, s, extra...))
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
	for _, rt := range router(t, io.Discard, memory.New(), shop.New()).Router().Routes() {
		got = append(got, rt.Method+" "+rt.Path)
	}
	apptest.CheckRoutes(t, got)
}

func TestMetrics(t *testing.T) {
	apptest.CheckMetrics(t, build(t, memory.New(), shop.New()))
}

// TestPanicLogged: Echo v5's Recover only returns the panic as an error;
// the server logs it, with its stack, and answers a bare 500.
func TestPanicLogged(t *testing.T) {
	var log bytes.Buffer
	app := apptest.Handler(router(t, &log, memory.New(), shop.New()))
	w := apptest.Do(app, http.MethodPost, "/payments?panic=1", `{"amount":1,"currency":"EUR"}`,
		"Idempotency-Key", "8e03978e-40d5-43e8-bc93-6894a57f9324")
	if w.Code != http.StatusInternalServerError || strings.Contains(w.Body, "panic") {
		t.Fatalf("%d %s, want a bare 500", w.Code, w.Body)
	}
	if !strings.Contains(log.String(), "handler panic") || !strings.Contains(log.String(), "goroutine") {
		t.Fatalf("the panic was not logged with its stack:\n%s", log.String())
	}
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
