// Command nethttp serves the example payments API on the standard
// library's http.ServeMux with idemhttp.
//
//	go run ./examples/nethttp -addr :8080 [-redis redis://localhost:6379/0 | -postgres postgres://app@localhost/app] [-lease 30s] [-lock-wait 5s]
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
// record (package pgshop). newMux below wires the idempotency
// middleware; package shop holds the framework-neutral handlers, package
// httpapp maps them to net/http, and package serve reads the flags.
package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/httpapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemhttp "github.com/idemkit/idempotency/nethttp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("nethttp", args, stderr, func(env *serve.Env) (serve.Server, error) {
		h := newRouter(env)
		return func(ctx context.Context) error {
			return serve.HTTP(ctx, env.Logger, env.Config.Addr, h)
		}, nil
	})
}

// newRouter is the server's handler: the middleware around the mux.
// RequestID is outside the idempotency middleware: every response, a
// replay too, gets a fresh X-Request-Id, never stored. Recovery next, so
// a panic unwinds through idemhttp (which releases the key) first, then
// answers 500. User is the demo's authentication: X-User-ID into the
// request's context.
func newRouter(env *serve.Env) http.Handler {
	return httpapp.RequestID(httpapp.Recovery(env.Logger)(httpapp.User(newMux(env))))
}

// newMux wires the example API (package shop) on an http.ServeMux: the
// idempotent routes and their options, and GET /metrics. The middleware
// is on each route, where the mux has matched the pattern (r.Pattern),
// so the route scope is "/payments", never a raw path. idemhttp.New
// panics on an invalid option; serve has checked the flags that reach
// env.Options already.
func newMux(env *serve.Env) *http.ServeMux {
	mux := http.NewServeMux()
	h := func(e shop.Endpoint) http.Handler { return httpapp.Handler(env.Shop, e) }

	// Every idempotent route: one store, the telemetry and flags, users.
	// With -bare (the benchmark baseline) the routes get no idempotency
	// middleware at all: idem returns the handler as it is.
	opts := slices.Clip(append(env.Options(), core.WithStore(env.Store), idemhttp.WithUserGetter(httpapp.UserOf)))
	idem := func(opts ...core.Option) func(http.Handler) http.Handler {
		if env.Config.Bare {
			return func(h http.Handler) http.Handler { return h }
		}
		return idemhttp.New(opts...)
	}
	pay := idem(opts...) // key required (UUID), scope user_route, payload fingerprinted
	mux.Handle("POST /payments", pay(h(shop.Payments)))
	mux.Handle("POST /refunds", pay(h(shop.Refunds)))
	mux.Handle("POST /exports", pay(h(shop.Exports))) // streamed, so a retry gets 410 result-unavailable
	mux.Handle("POST /votes", idem(append(opts, core.Tag("optional,ttl=2s"))...)(h(shop.Votes)))
	mux.Handle("POST /webhooks", idem(append(opts, core.WithHeaderName(shop.WebhookHeader),
		core.WithKeyValidator(core.Token()), core.WithoutPayloadCheck())...)(h(shop.Webhooks)))
	mux.Handle("GET /stats", h(shop.Stats)) // reads are not idempotency-keyed
	mux.Handle("GET "+serve.MetricsPath, env.Metrics)
	return mux
}
