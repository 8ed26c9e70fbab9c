package core_test

import (
	"errors"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// A Hooks without From cannot map any request: its options must fail at
// construction (SPEC §3: invalid options fail with an error), not panic
// on the first request with a nil func call.
func TestHooksWithoutFromFailAtConstruction(t *testing.T) {
	var h core.Hooks[int]
	for name, opt := range map[string]core.Option{
		"Skipper":     h.Skipper(func(int) bool { return false }),
		"UserGetter":  h.UserGetter(func(int) string { return "" }),
		"ScopeGetter": h.ScopeGetter(func(int) (string, error) { return "", nil }),
		"KeyGetter":   h.KeyGetter(func(int) (string, bool, error) { return "", false, nil }),
	} {
		if _, err := core.New(core.WithStore(memory.New()), opt); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s of a Hooks without From: New error %v, want ErrInvalidOption", name, err)
		}
	}
}
