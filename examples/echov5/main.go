// Command echov5 serves the example payments API on Echo v5 with idemecho
// (github.com/idemkit/idempotency/echov5).
//
//	go run ./examples/echov5 -addr :8080 [-redis redis://localhost:6379/0 | -postgres postgres://app@localhost/app] [-lease 30s] [-lock-wait 5s]
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//	curl localhost:8080/metrics
//
// It answers exactly as the Gin server does (examples/gin). newRouter
// below wires the idempotency middleware; package shop holds the
// framework-neutral handlers, package echov5app maps them to Echo v5, and
// package serve reads the flags.
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/idemkit/idempotency/core"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/examples/internal/echov5app"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("echov5", args, stderr, func(env *serve.Env) (serve.Server, error) {
		e := newRouter(env)
		return func(ctx context.Context) error {
			return serve.HTTP(ctx, env.Logger, env.Config.Addr, e)
		}, nil
	})
}

// newRouter wires the example API (package shop) on Echo v5: the
// middleware order, the idempotent routes and their options, and GET
// /metrics. idemecho.New panics on an invalid option; serve has checked
// the flags that reach env.Options already.
func newRouter(env *serve.Env) *echo.Echo {
	e := echo.New()
	e.Logger = env.Logger
	// Echo v5's Recover returns the panic as an error and nothing logs
	// it: log its stack here, then answer as Echo does (a bare 500).
	answer := echo.DefaultHTTPErrorHandler(false)
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		if pe := (*middleware.PanicStackError)(nil); errors.As(err, &pe) {
			env.Logger.Error("handler panic", "method", c.Request().Method, "path", c.Request().URL.Path,
				"panic", pe.Err, "stack", string(pe.Stack))
		}
		answer(c, err)
	}
	// RequestID is outside the idempotency middleware: every response, a
	// replay too, gets a fresh X-Request-Id, never stored. Recover next,
	// so a panic unwinds through idemecho (which releases the key) first.
	// User is the demo's authentication: X-User-ID into the context.
	e.Use(echov5app.RequestID(), middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}), echov5app.User())
	h := func(ep shop.Endpoint) echo.HandlerFunc { return echov5app.Handler(env.Shop, ep) }

	// Every idempotent route: one store, the telemetry and flags, users.
	// With -bare (the benchmark baseline) the routes get no idempotency
	// middleware at all: idem returns none.
	opts := slices.Clip(append(env.Options(), core.WithStore(env.Store),
		idemecho.WithUserGetter(func(c *echo.Context) string { u, _ := c.Get(shop.UserKey).(string); return u })))
	idem := func(opts ...core.Option) []echo.MiddlewareFunc {
		if env.Config.Bare {
			return nil
		}
		return []echo.MiddlewareFunc{idemecho.New(opts...)}
	}
	pay := idem(opts...) // key required (UUID), scope user_route, payload fingerprinted
	e.POST("/payments", h(shop.Payments), pay...)
	e.POST("/refunds", h(shop.Refunds), pay...)
	e.POST("/exports", h(shop.Exports), pay...) // streamed, so a retry gets 410 result-unavailable
	e.POST("/votes", h(shop.Votes), idem(append(opts, core.Tag("optional,ttl=2s"))...)...)
	e.POST("/webhooks", h(shop.Webhooks), idem(append(opts, core.WithHeaderName(shop.WebhookHeader),
		core.WithKeyValidator(core.Token()), core.WithoutPayloadCheck())...)...)
	e.GET("/stats", h(shop.Stats)) // reads are not idempotency-keyed
	e.GET(serve.MetricsPath, echo.WrapHandler(env.Metrics))
	return e
}
