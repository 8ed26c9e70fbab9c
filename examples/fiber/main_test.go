package main

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMetrics(t *testing.T) {
	env, err := serve.NewEnv(serve.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)), memory.New())
	if err != nil {
		t.Fatal(err)
	}
	app, err := newApp(env)
	if err != nil {
		t.Fatal(err)
	}
	apptest.CheckMetrics(t, apptest.Response(t, func(req *http.Request) (*http.Response, error) { return app.Test(req, -1) }))
}
