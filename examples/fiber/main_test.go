package main

import (
	"io"
	"log/slog"
	"net/http"
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
	app, err := newApp(env)
	if err != nil {
		t.Fatal(err)
	}
	apptest.CheckMetrics(t, apptest.Response(t, func(req *http.Request) (*http.Response, error) { return app.Test(req, -1) }))
}

func TestBadRedisURLExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-redis", "localhost:6379"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if !strings.Contains(out.String(), "fiber: invalid Redis URL") {
		t.Errorf("message %q", out.String())
	}
}

func TestBadFlagExits2(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"-bogus"}, &out); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}
