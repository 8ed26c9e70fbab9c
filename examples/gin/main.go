// Command gin serves the example payments API on Gin with idemgin.
//
//	go run ./examples/gin -addr :8080 [-redis redis://localhost:6379/0 | -postgres postgres://app@localhost/app] [-lease 30s] [-lock-wait 5s]
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//	curl localhost:8080/metrics
//
// Send the same request again: the status, body and Location come back
// with "Idempotency-Status: Repeated", without Set-Cookie, and GET /stats
// shows the handler ran once. With -redis (or REDIS_URL) several
// instances share the keys; with -postgres (or DATABASE_URL) too, and each
// payment's row is written in the same transaction as its idempotency
// record (package pgshop). newRouter below wires the idempotency
// middleware; package shop holds the framework-neutral handlers, package
// ginapp maps them to Gin, and package serve reads the flags.
package main

import (
	"context"
	"io"
	"os"

	"slices"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemgin "github.com/idemkit/idempotency/gin"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("gin", args, stderr, func(env *serve.Env) (serve.Server, error) {
		h := newRouter(env)
		return func(ctx context.Context) error {
			return serve.HTTP(ctx, env.Logger, env.Config.Addr, h)
		}, nil
	})
}

// newRouter wires the example API (package shop) on Gin: the middleware
// order, the idempotent routes and their options, and GET /metrics.
// idemgin.New panics on an invalid option; serve has checked the flags
// that reach env.Options already.
func newRouter(env *serve.Env) *gin.Engine {
	gin.SetMode(gin.ReleaseMode) // no debug route dump; we log with slog
	r := gin.New()
	// RequestID is outside the idempotency middleware: every response, a
	// replay too, gets a fresh X-Request-Id, never stored. Recovery next,
	// so a panic unwinds through idemgin (which releases the key) first.
	// User is the demo's authentication: X-User-ID into the context.
	r.Use(ginapp.RequestID(), gin.Recovery(), ginapp.User())
	h := func(e shop.Endpoint) gin.HandlerFunc { return ginapp.Handler(env.Shop, e) }

	// Every idempotent route: one store, the telemetry and flags, users.
	// With -bare (the benchmark baseline) the routes get no idempotency
	// middleware at all: idem returns none.
	opts := slices.Clip(append(env.Options(), core.WithStore(env.Store),
		idemgin.WithUserGetter(func(c *gin.Context) string { return c.GetString(shop.UserKey) })))
	idem := func(opts ...core.Option) []gin.HandlerFunc {
		if env.Config.Bare {
			return nil
		}
		return []gin.HandlerFunc{idemgin.New(opts...)}
	}
	route := func(path string, mw []gin.HandlerFunc, e shop.Endpoint) {
		r.POST(path, append(slices.Clip(mw), h(e))...)
	}
	pay := idem(opts...) // key required (UUID), scope user_route, payload fingerprinted
	route("/payments", pay, shop.Payments)
	route("/refunds", pay, shop.Refunds)
	route("/exports", pay, shop.Exports) // streamed, so a retry gets 410 result-unavailable
	route("/votes", idem(append(opts, core.Tag("optional,ttl=2s"))...), shop.Votes)
	route("/webhooks", idem(append(opts, core.WithHeaderName(shop.WebhookHeader),
		core.WithKeyValidator(core.Token()), core.WithoutPayloadCheck())...), shop.Webhooks)
	r.GET("/stats", h(shop.Stats)) // reads are not idempotency-keyed
	r.GET(serve.MetricsPath, gin.WrapH(env.Metrics))
	return r
}
