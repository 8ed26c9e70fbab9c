package idemfiber_test

import (
	"errors"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemfiber "github.com/idemkit/idempotency/fiberv3"
)

func TestHooks(t *testing.T) {
	coretest.TestHooks(t, coretest.Harness{Start: startFiber, HandlerErrors: true}, coretest.TypedHooks{
		SkipIfHeader: func(name string) core.Option {
			return idemfiber.WithSkipper(func(c fiber.Ctx) bool { return c.Get(name) != "" })
		},
		UserFromHeader: func(name string) core.Option {
			return idemfiber.WithUserGetter(func(c fiber.Ctx) string { return c.Get(name) })
		},
		ScopeFromHeader: func(name string) core.Option {
			return idemfiber.WithScopeGetter(func(c fiber.Ctx) (string, error) {
				if s := c.Get(name); s != "" {
					return s, nil
				}
				return "", errors.New("no " + name)
			})
		},
		KeyFromQuery: func(name string) core.Option {
			return idemfiber.WithKeyGetter(func(c fiber.Ctx) (string, bool, error) {
				k := c.Query(name)
				return k, k != "", nil
			})
		},
		HasContext: func(r core.Request) bool { return idemfiber.Context(r) != nil },
	})
}
