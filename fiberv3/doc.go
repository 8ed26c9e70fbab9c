// Package idemfiber plugs idemkit's idempotency engine into Fiber v3
// (github.com/gofiber/fiber/v3); the module github.com/idemkit/idempotency/fiber
// is the same adapter for Fiber v2.
//
//	app := fiber.New()
//	app.Post("/charges", idemfiber.New(core.WithTTL(15*time.Minute)), h)
//	app.Post("/votes", idemfiber.New(core.Tag("optional,ttl=60s,scope=ip")), h)
//
// The adapter maps fiber.Ctx to core.Exchange and reads the response back
// from fasthttp after the handler ran; every decision is the engine's.
// Body streams (SendStream, SetBodyStreamWriter) pass through unstored
// and leave a tombstone (410 result-unavailable on a retry). A handler's
// error is answered by the app's ErrorHandler inside the middleware: a
// 4xx is stored, a 5xx releases the key; a panic releases the key and
// keeps propagating to the recover middleware. After core.DeclareEffects
// both leave the key uncertain instead. WithSkipper plays the part of
// Fiber's Config.Next.
//
// Typed hooks take the framework's own context, as otelgin's filters do:
// WithSkipper, WithUserGetter, WithScopeGetter and WithKeyGetter, with the
// same names in idemgin, idemecho and idemfiber. Context returns the
// fiber.Ctx behind the read-only core.Request that core's extension
// points (core.WithSkip, core.KeyExtractor, ...) receive.
//
// Handlers find their claim, for core.DeclareEffects and core.DerivedKey,
// in c.Context() (the context to pass downstream) and in c itself, which
// Fiber v3 makes a context.Context whose Value reads the locals.
//
// Fiber reads whole bodies itself and rejects those above its own
// Config.BodyLimit (default 4 MiB) before any middleware runs; raise it to
// at least the engine's MaxBodyBytes (default 10 MiB) when clients may
// send more.
//
// Under app.Use or a Group, the route scopes (route, user_route) use the
// pattern of the route the request will reach, not the mount prefix; a
// request that matches no route passes through to Fiber's 404.
package idemfiber
