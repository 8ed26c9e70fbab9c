package echov5app

import (
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/apptest"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

func TestApp(t *testing.T) { apptest.Run(t, build) }

// TestEffects: nothing that ran runs again, on both stores.
func TestEffects(t *testing.T) {
	for name, newStore := range apptest.Stores(t) {
		t.Run(name, func(t *testing.T) { apptest.RunEffects(t, build, newStore) })
	}
}

func build(t *testing.T, store core.Store, s *shop.Shop, extra ...core.Option) apptest.App {
	e, err := New(store, s, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Handler(e)
}

func TestNewErrors(t *testing.T) {
	apptest.CheckNewErrors(t, func(st core.Store, s *shop.Shop, opts ...core.Option) error {
		_, err := New(st, s, opts...)
		return err
	})
}
