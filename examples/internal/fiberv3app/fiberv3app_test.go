package fiberv3app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMain(m *testing.M) {
	ErrorWriter = io.Discard // the panic test's stack trace
	os.Exit(m.Run())
}

func TestApp(t *testing.T) { apptest.Run(t, build) }

// TestEffects: nothing that ran runs again, on both stores.
func TestEffects(t *testing.T) {
	for name, newStore := range apptest.Stores(t) {
		t.Run(name, func(t *testing.T) { apptest.RunEffects(t, build, newStore) })
	}
}

func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	app, err := New(store, s, extra...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Shutdown() })
	return apptest.Response(t, func(req *http.Request) (*http.Response, error) {
		return app.Test(req, fiber.TestConfig{Timeout: 0})
	})
}

// Errors that are not *fiber.Error answer a bare 500: a recovered panic's
// message stays in the log.
func TestErrorHandler(t *testing.T) {
	app, err := New(memory.New(), shop.New())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := app.Test(httptest.NewRequest("GET", "/nowhere", nil), fiber.TestConfig{Timeout: 0})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	// Fiber v3 answers fiber.ErrNotFound (v2 said "Cannot GET /nowhere").
	if resp.StatusCode != 404 || string(b) != "Not Found" {
		t.Errorf("404: %d %q", resp.StatusCode, b)
	}
}

// fasthttp refuses bodies over BodyLimit itself, before any middleware:
// it must not pre-empt the engine's own 413 problem at its default limit.
func TestBodyLimitAboveEngineDefault(t *testing.T) {
	app, err := New(memory.New(), shop.New())
	if err != nil {
		t.Fatal(err)
	}
	if got := app.Config().BodyLimit; got <= core.DefaultMaxBodyBytes {
		t.Errorf("BodyLimit %d, want more than core.DefaultMaxBodyBytes (%d)", got, core.DefaultMaxBodyBytes)
	}
}

func TestNewErrors(t *testing.T) {
	apptest.CheckNewErrors(t, func(st core.Store, s *shop.Shop, opts ...core.Option) error {
		_, err := New(st, s, opts...)
		return err
	})
}
