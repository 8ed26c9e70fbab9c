// Package idemecho plugs idemkit's idempotency engine into Echo v4.
//
//	e := echo.New()
//	api := e.Group("/api", idemecho.New()) // in-memory store, UUID keys, scope user_route
//	e.POST("/charges", h, idemecho.New(core.WithTTL(15*time.Minute)))
//	e.POST("/votes", h, idemecho.New(core.Tag("optional,ttl=60s,scope=ip")))
//
// When idemkit middlewares are stacked on one request, the outermost
// handles it and the inner ones pass through.
//
// The adapter maps echo.Context to core.Exchange and captures the response
// through Echo's *echo.Response writer; every decision is the engine's.
// Refusals (400, 409, 413, 422, 503, ...) are written directly as RFC
// 9457 problem+json by default; with WithHTTPErrors they are returned as
// *echo.HTTPError instead, for Echo's HTTPErrorHandler to render. A
// handler's error is answered by Echo's
// HTTPErrorHandler inside the middleware: a 4xx is stored, a 5xx releases
// the key; a panic releases the key and keeps propagating to
// middleware.Recover. After core.DeclareEffects both leave the key
// uncertain instead. Streaming (Flush, Hijack) passes through unstored and
// leaves a tombstone (410 result-unavailable on a retry). WithSkipper
// follows Echo's Skipper convention (a middleware.Skipper fits).
//
// Typed hooks take the framework's own context, as otelgin's filters do:
// WithSkipper, WithUserGetter, WithScopeGetter and WithKeyGetter, with the
// same names in idemgin, idemecho and idemfiber. Context returns the
// echo.Context behind the read-only core.Request that core's extension
// points (core.WithSkip, core.KeyExtractor, ...) receive.
//
// Handlers find their claim, for core.DeclareEffects and core.DerivedKey,
// in c.Request().Context().
package idemecho
