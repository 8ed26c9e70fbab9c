package idemhttp

import (
	"net/http"

	"github.com/idemkit/idempotency/core"
)

// hooks builds the typed options on core.Hooks.
var hooks = core.Hooks[*http.Request]{From: func(r core.Request) (*http.Request, bool) {
	if v, ok := r.(*view); ok {
		return v.r, true
	}
	return nil, false
}}

// Request returns the *http.Request behind a core.Request (what custom
// key extractors, scope and user resolvers and skip functions receive),
// or nil for another framework's request.
func Request(r core.Request) *http.Request {
	hr, _ := hooks.From(r)
	return hr
}

// WithSkipper lets requests for which skip returns true pass through
// untouched: no key is read and no idempotency header is set. Default:
// none skipped (only methods outside core.WithMethods pass through).
func WithSkipper(skip func(r *http.Request) bool) core.Option { return hooks.Skipper(skip) }

// WithUserGetter reads the user for the user scopes (core.ScopeUser,
// core.ScopeUserRoute) from the request, e.g. a value the auth middleware
// put in its context under its own key type:
// idemhttp.WithUserGetter(func(r *http.Request) string { u, _ :=
// r.Context().Value(userKey{}).(string); return u }). An empty user is
// the anonymous space, which no user id can name. Default: every request
// is anonymous (core.WithUserKey reads a context value stored under a
// plain string key instead).
func WithUserGetter(user func(r *http.Request) string) core.Option { return hooks.UserGetter(user) }

// WithScopeGetter computes each request's scope from the request, in
// place of the built-in scopes, e.g. a tenant id. Requests whose scopes
// differ never see each other's records; an error is answered 500.
// Default: the built-in scope (core.ScopeUserRoute).
func WithScopeGetter(scope func(r *http.Request) (string, error)) core.Option {
	return hooks.ScopeGetter(scope)
}

// WithKeyGetter reads the idempotency key from the request: found is
// false when the request has none, err is for one that is present but
// malformed (400). The key is still validated (core.WithKeyValidator).
// Default: the Idempotency-Key header (core.WithHeaderName).
func WithKeyGetter(key func(r *http.Request) (key string, found bool, err error)) core.Option {
	return hooks.KeyGetter(key)
}
