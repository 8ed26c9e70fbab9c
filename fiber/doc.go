// Package idemfiber plugs idemkit's idempotency engine into Fiber v2.
//
//	app := fiber.New()
//	app.Post("/charges", idemfiber.New(core.WithTTL(15*time.Minute)), h)
//	app.Post("/votes", idemfiber.New(core.Tag("optional,ttl=60s,scope=ip")), h)
//
// The adapter maps *fiber.Ctx to core.Exchange and reads the response back
// from fasthttp after the handler ran; every decision is the engine's.
// Body streams (SendStream, SetBodyStreamWriter) pass through unstored. A
// handler's error releases the key and is returned to Fiber's error
// handler; a panic releases the key and keeps propagating to the recover
// middleware. WithNext follows Fiber's Next convention.
//
// Fiber reads whole bodies itself and rejects those above its own
// Config.BodyLimit (default 4 MiB) before any middleware runs; raise it to
// at least the engine's MaxBodyBytes (default 10 MiB) when clients may
// send more.
//
// Under app.Use, Fiber has not matched the final route yet, so the route
// scopes (route, user_route) fall back to the concrete path there; attach
// the middleware to routes or groups to scope by route pattern.
package idemfiber
