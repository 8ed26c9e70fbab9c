// Command fiber serves the example payments API on Fiber with idemfiber.
//
//	go run ./examples/fiber -addr :8080 [-redis redis://localhost:6379/0 | -postgres postgres://app@localhost/app] [-lease 30s] [-lock-wait 5s]
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//	curl localhost:8080/metrics
//
// It answers exactly as the Gin server does (examples/gin). newApp below
// wires the idempotency middleware; package shop holds the
// framework-neutral handlers, package fiberapp maps them to Fiber, and
// package serve reads the flags.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/fiberapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemfiber "github.com/idemkit/idempotency/fiber"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("fiber", args, stderr, func(env *serve.Env) (serve.Server, error) {
		app := newApp(env)
		fiberapp.ErrorWriter = stderr
		return func(ctx context.Context) error {
			// Fiber serves through fasthttp, not net/http.
			return serve.Listen(ctx, env.Logger, env.Config.Addr,
				func(ln net.Listener) error { return app.Listener(ln) },
				app.ShutdownWithContext)
		}, nil
	})
}

// newApp wires the example API (package shop) on Fiber: the middleware
// order, the idempotent routes and their options, and GET /metrics,
// served by promhttp through Fiber's net/http adaptor. idemfiber.New
// panics on an invalid option; serve has checked the flags that reach
// env.Options already.
func newApp(env *serve.Env) *fiber.App {
	app := fiber.New(fiberapp.Config()) // body limit above the engine's, Immutable strings, ErrorHandler
	// RequestID is outside the idempotency middleware: every response, a
	// replay too, gets a fresh X-Request-Id, never stored. Recover next,
	// so a panic unwinds through idemfiber (which releases the key) first.
	// User is the demo's authentication: X-User-ID into c.Locals.
	app.Use(fiberapp.RequestID(), fiberapp.Recover(), fiberapp.User())
	h := func(e shop.Endpoint) fiber.Handler { return fiberapp.Handler(env.Shop, e) }

	// Every idempotent route: one store, the telemetry and flags, users.
	// Per route, not app.Use, so that the scope sees the route pattern.
	// With -bare (the benchmark baseline) the routes get no idempotency
	// middleware at all: idem returns none.
	opts := slices.Clip(append(env.Options(), core.WithStore(env.Store),
		idemfiber.WithUserGetter(func(c *fiber.Ctx) string { u, _ := c.Locals(shop.UserKey).(string); return u })))
	idem := func(opts ...core.Option) []fiber.Handler {
		if env.Config.Bare {
			return nil
		}
		return []fiber.Handler{idemfiber.New(opts...)}
	}
	route := func(path string, mw []fiber.Handler, e shop.Endpoint) {
		app.Post(path, append(slices.Clip(mw), h(e))...)
	}
	pay := idem(opts...) // key required (UUID), scope user_route, payload fingerprinted
	route("/payments", pay, shop.Payments)
	route("/refunds", pay, shop.Refunds)
	route("/exports", pay, shop.Exports) // streamed, so a retry gets 410 result-unavailable
	route("/votes", idem(append(opts, core.Tag("optional,ttl=2s"))...), shop.Votes)
	route("/webhooks", idem(append(opts, core.WithHeaderName(shop.WebhookHeader),
		core.WithKeyValidator(core.Token()), core.WithoutPayloadCheck())...), shop.Webhooks)
	app.Get("/stats", h(shop.Stats)) // reads are not idempotency-keyed
	app.Get(serve.MetricsPath, adaptor.HTTPHandler(env.Metrics))
	return app
}
