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
// Refusals (400, 409, 413, 422, 503) are written directly as RFC 9457
// problem+json rather than returned as errors, so Echo's error handler
// cannot reshape them. A handler's error releases the key and is returned
// to Echo unchanged; a panic releases the key and keeps propagating to
// middleware.Recover. Streaming (Flush, Hijack) passes through unstored.
// WithSkipper follows Echo's Skipper convention.
package idemecho
