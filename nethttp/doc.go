// Package idemhttp plugs idemkit's idempotency engine into net/http: the
// standard library's http.ServeMux, and any router built on
// http.Handler (chi, gorilla/mux), through a func(http.Handler)
// http.Handler middleware. It imports nothing outside the standard
// library and idemkit.
//
// On a route, where http.ServeMux has matched the pattern already:
//
//	mux := http.NewServeMux()
//	mux.Handle("POST /charges", idemhttp.New(core.WithTTL(15*time.Minute))(charges))
//	mux.Handle("POST /votes", idemhttp.New(core.Tag("optional,ttl=60s,scope=ip"))(votes))
//
// Around a whole mux, which has not matched yet when the middleware runs,
// the mux is asked for the route (see WithRoute for chi and gorilla/mux):
//
//	srv := idemhttp.New(idemhttp.WithRoute(idemhttp.MuxRoute(mux)))(mux)
//
// The route is the matched pattern without its method ("POST
// /items/{id}" is scoped as /items/{id}); a request that matched none
// (the mux's 404, 405 or redirect) passes through untouched.
//
// The adapter only maps the request and its http.ResponseWriter to
// core.Exchange: reading the request, capturing the response through a
// writer wrapping the server's, replaying. Every decision is the
// engine's (package core). The writer the handler gets still flushes,
// hijacks and reaches the server's deadlines through
// http.ResponseController; a flushed or hijacked response passes through
// and is not stored: a retry gets 410 result-unavailable (a tombstone).
// A panic in the handler releases the key (or leaves it uncertain after
// core.DeclareEffects) and keeps propagating, to net/http's recovery or
// yours.
//
// Typed hooks take the *http.Request, as the other adapters' take their
// framework's context: WithSkipper, WithUserGetter, WithScopeGetter and
// WithKeyGetter. Request returns the *http.Request behind the read-only
// core.Request that core's extension points (core.WithSkip,
// core.KeyExtractor, ...) receive; core.WithUserKey reads the request's
// context under a plain string key.
//
// Handlers find their claim, for core.DeclareEffects and core.DerivedKey,
// in r.Context():
//
//	if err := core.DeclareEffects(r.Context()); err != nil { ... } // do not charge
//
// When idemkit middlewares are stacked on one request (around the mux
// and on a route), the outermost handles it and the inner ones pass
// through, so a request is never claimed twice.
package idemhttp
