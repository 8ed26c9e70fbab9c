// Package idemecho plugs idemkit's idempotency engine into Echo v5
// (github.com/labstack/echo/v5); the adapter for Echo v4 is
// github.com/idemkit/idempotency/echo, with the same API.
//
//	e := echo.New()
//	api := e.Group("/api", idemecho.New()) // in-memory store, UUID keys, scope user_route
//	e.POST("/charges", h, idemecho.New(core.WithTTL(15*time.Minute)))
//	e.POST("/votes", h, idemecho.New(core.Tag("optional,ttl=60s,scope=ip")))
//
// When idemkit middlewares are stacked on one request, the outermost
// handles it and the inner ones pass through.
//
// The adapter maps *echo.Context to core.Exchange and captures the
// response under Echo's *echo.Response (found with echo.UnwrapResponse);
// every decision is the engine's. Echo v5 routes before e.Use middleware
// runs, so the route pattern (the user_route scope) is known wherever the
// middleware is mounted; Echo's own 404 and 405 answers pass through
// untouched. Refusals (400, 409, 413, 422, 503, ...) are written directly
// as RFC 9457 problem+json by default; with WithHTTPErrors they are
// returned as a *ProblemError instead, for Echo's HTTPErrorHandler to
// render. A handler's error is answered by Echo's HTTPErrorHandler
// (c.Echo().HTTPErrorHandler) inside the middleware: a 4xx is stored, a
// 5xx releases the key; a panic releases the key and keeps propagating to
// middleware.Recover. After core.DeclareEffects both leave the key
// uncertain instead. Streaming (Flush, Hijack) passes through unstored and
// leaves a tombstone (410 result-unavailable on a retry). WithSkipper
// follows Echo's Skipper convention (a middleware.Skipper fits).
//
// Typed hooks take the framework's own context, as otelgin's filters do:
// WithSkipper, WithUserGetter, WithScopeGetter and WithKeyGetter, with the
// same names in idemgin, idemecho and idemfiber. Context returns the
// *echo.Context behind the read-only core.Request that core's extension
// points (core.WithSkip, core.KeyExtractor, ...) receive.
//
// Client IPs (the ip scope) come from c.RealIP(), which in Echo v5 is the
// connection's address unless Echo.IPExtractor says otherwise.
//
// Handlers find their claim, for core.DeclareEffects and core.DerivedKey,
// in c.Request().Context().
package idemecho
