package echoapp

import (
	"io"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestApp(t *testing.T) {
	apptest.Run(t, func(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
		e, err := New(store, s, extra...)
		if err != nil {
			t.Fatal(err)
		}
		e.Logger.SetOutput(io.Discard) // the panic test's stack trace
		return apptest.Handler(e)
	})
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, shop.New()); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := New(memory.New(), nil); err == nil {
		t.Error("nil shop accepted")
	}
	if _, err := New(memory.New(), shop.New(), core.WithTTL(-1)); err == nil {
		t.Error("invalid option accepted")
	}
}
