// Package idemgin plugs idemkit's idempotency engine into Gin.
//
//	r := gin.New()
//	api := r.Group("/api", idemgin.New()) // in-memory store, UUID keys, scope user_route
//
// Per route, with functional options or an option tag:
//
//	r.POST("/charges", idemgin.New(core.WithTTL(15*time.Minute)), h)
//	r.POST("/votes", idemgin.New(core.Tag("optional,ttl=60s,scope=ip")), h)
//
// The adapter only maps *gin.Context to core.Exchange: reading the
// request, capturing the response through Gin's writer, replaying. Every
// decision is the engine's (package core). Streaming responses (Flush,
// Hijack, c.Stream, SSE) pass through and are not stored: a retry gets
// 410 result-unavailable (a tombstone). A panic in the handler releases
// the key (or leaves it uncertain after core.DeclareEffects) and keeps
// propagating, so gin.Recovery still answers.
//
// Typed hooks take the framework's own context, as otelgin's filters do:
// WithSkipper, WithUserGetter, WithScopeGetter and WithKeyGetter, with the
// same names in idemgin, idemecho and idemfiber. Context returns the
// *gin.Context behind the read-only core.Request that core's extension
// points (core.WithSkip, core.KeyExtractor, ...) receive.
//
// Handlers find their claim, for core.DeclareEffects and core.DerivedKey,
// in c.Request.Context() and in the *gin.Context itself:
//
//	if err := core.DeclareEffects(c); err != nil { ... } // do not charge
//
// When idemkit middlewares are stacked on one request (r.Use and a route
// middleware), the outermost handles it and the inner ones pass through,
// so a request is never claimed twice.
package idemgin
