// Command fiber serves the example payments API on Fiber with idemfiber.
//
//	go run ./examples/fiber -addr :8080 [-redis redis://localhost:6379/0] [-lease 30s] [-lock-wait 5s]
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//	curl localhost:8080/metrics
//
// It answers exactly as the Gin server does (examples/gin); see package
// shop for the routes and package serve for the flags and exit codes.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"

	"github.com/idemkit/idempotency/examples/internal/fiberapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("fiber", args, stderr, func(env *serve.Env) (serve.Server, error) {
		app, err := newApp(env)
		if err != nil {
			return nil, err
		}
		fiberapp.ErrorWriter = stderr
		return func(ctx context.Context) error {
			// Fiber serves through fasthttp, not net/http.
			return serve.Listen(ctx, env.Logger, env.Config.Addr,
				func(ln net.Listener) error { return app.Listener(ln) },
				app.ShutdownWithContext)
		}, nil
	})
}

// newApp is the example API of fiberapp plus GET /metrics, served by
// promhttp through Fiber's net/http adaptor.
func newApp(env *serve.Env) (*fiber.App, error) {
	app, err := fiberapp.New(env.Store, env.Shop, env.Options()...)
	if err != nil {
		return nil, err
	}
	app.Get(serve.MetricsPath, adaptor.HTTPHandler(env.Metrics))
	return app, nil
}
