package idemecho

import (
	"strconv"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
)

// hooks builds the typed options on core.Hooks.
var hooks = core.Hooks[*echo.Context]{From: func(r core.Request) (*echo.Context, bool) {
	if v, ok := r.(*view); ok {
		return v.c, true
	}
	return nil, false
}}

// Context returns the *echo.Context behind a core.Request (what custom
// key extractors, scope and user resolvers and skip functions receive),
// or nil for another framework's request.
func Context(r core.Request) *echo.Context {
	c, _ := hooks.From(r)
	return c
}

// WithSkipper lets requests for which skip returns true pass through
// untouched: no key is read and no idempotency header is set. Default:
// none skipped (only methods outside core.WithMethods pass through).
func WithSkipper(skip func(c *echo.Context) bool) core.Option { return hooks.Skipper(skip) }

// WithUserGetter reads the user for the user scopes (core.ScopeUser,
// core.ScopeUserRoute) from the echo context, e.g. a value the auth
// middleware set: idemecho.WithUserGetter(func(c *echo.Context) string {
// u, _ := c.Get("user_id").(string); return u }). An empty user is the
// anonymous space, which no user id can name. Default: every request is
// anonymous (core.WithUserKey reads a context value by name instead).
func WithUserGetter(user func(c *echo.Context) string) core.Option { return hooks.UserGetter(user) }

// WithScopeGetter computes each request's scope from the echo context, in
// place of the built-in scopes, e.g. a tenant id. Requests whose scopes
// differ never see each other's records; an error is answered 500.
// Default: the built-in scope (core.ScopeUserRoute).
func WithScopeGetter(scope func(c *echo.Context) (string, error)) core.Option {
	return hooks.ScopeGetter(scope)
}

// WithKeyGetter reads the idempotency key from the echo context: found is
// false when the request has none, err is for one that is present but
// malformed (400). The key is still validated (core.WithKeyValidator).
// Default: the Idempotency-Key header (core.WithHeaderName).
func WithKeyGetter(key func(c *echo.Context) (key string, found bool, err error)) core.Option {
	return hooks.KeyGetter(key)
}

// WithHTTPErrors makes refusals (missing or invalid key, mismatch,
// conflict, store unavailable, ...) return an error instead of writing an
// RFC 9457 problem, so that Echo's HTTPErrorHandler renders them like the
// application's other errors. Echo v5's HTTPError carries only a string
// message, so the error is a *ProblemError: echo.StatusCode gives the
// problem's status, errors.As finds the *core.Problem, Echo's
// DefaultHTTPErrorHandler writes the problem's JSON and
// echo.ProblemDetailsHTTPErrorHandler an application/problem+json
// document with its type, title, status and detail. Retry-After and
// Cache-Control: no-store are set on the response before the error
// handler writes. Default: problems are written by the middleware.
func WithHTTPErrors() core.Option {
	return core.WithErrorResponder(core.ErrorResponderFunc(func(r core.Request, p *core.Problem) (core.Response, error) {
		if c := Context(r); c != nil {
			h := c.Response().Header()
			h.Set("Cache-Control", "no-store")
			if p.RetryAfter > 0 {
				h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
			}
		}
		return core.Response{}, &ProblemError{Problem: p}
	}))
}
