package main

import (
	"io"
	"log/slog"
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
	r, err := newRouter(env)
	if err != nil {
		t.Fatal(err)
	}
	apptest.CheckMetrics(t, apptest.Handler(r))
}
