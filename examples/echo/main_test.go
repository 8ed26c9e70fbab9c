package main

import (
	"io"
	"log/slog"
	"strings"
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

func TestBadRedisURLExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-redis", "localhost:6379"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), "echo: invalid Redis URL") {
		t.Errorf("message %q", out.String())
	}
}

func TestBadFlagExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-bogus"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
