package idemfiber

import (
	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
)

// hooks builds the typed options on core.Hooks.
var hooks = core.Hooks[fiber.Ctx]{From: func(r core.Request) (fiber.Ctx, bool) {
	if v, ok := r.(*view); ok {
		return v.c, true
	}
	return nil, false
}}

// Context returns the fiber.Ctx behind a core.Request (what custom key
// extractors, scope and user resolvers and skip functions receive), or
// nil for another framework's request.
func Context(r core.Request) fiber.Ctx {
	c, _ := hooks.From(r)
	return c
}

// WithSkipper lets requests for which skip returns true pass through
// untouched: no key is read and no idempotency header is set. Default:
// none skipped (only methods outside core.WithMethods pass through).
func WithSkipper(skip func(c fiber.Ctx) bool) core.Option { return hooks.Skipper(skip) }

// WithUserGetter reads the user for the user scopes (core.ScopeUser,
// core.ScopeUserRoute) from the fiber context, e.g. a value the auth
// middleware set: idemfiber.WithUserGetter(func(c fiber.Ctx) string {
// u, _ := c.Locals("user_id").(string); return u }). An empty user is the anonymous
// space, which no user id can name. Default: every request is anonymous
// (core.WithUserKey reads a context value by name instead).
func WithUserGetter(user func(c fiber.Ctx) string) core.Option { return hooks.UserGetter(user) }

// WithScopeGetter computes each request's scope from the fiber context, in
// place of the built-in scopes, e.g. a tenant id. Requests whose scopes
// differ never see each other's records; an error is answered 500.
// Default: the built-in scope (core.ScopeUserRoute).
func WithScopeGetter(scope func(c fiber.Ctx) (string, error)) core.Option {
	return hooks.ScopeGetter(scope)
}

// WithKeyGetter reads the idempotency key from the fiber context: found is
// false when the request has none, err is for one that is present but
// malformed (400). The key is still validated (core.WithKeyValidator).
// Default: the Idempotency-Key header (core.WithHeaderName).
func WithKeyGetter(key func(c fiber.Ctx) (key string, found bool, err error)) core.Option {
	return hooks.KeyGetter(key)
}
