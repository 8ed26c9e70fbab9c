// Command echo serves the example payments API on Echo with idemecho.
//
//	go run ./examples/echo -addr :8080 [-redis redis://localhost:6379/0] [-lease 30s] [-lock-wait 5s]
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
	"os"

	"github.com/labstack/echo/v4"

	"github.com/idemkit/idempotency/examples/internal/echoapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("echo", args, stderr, func(env *serve.Env) (serve.Server, error) {
		e, err := newRouter(env)
		if err != nil {
			return nil, err
		}
		e.Logger.SetOutput(stderr) // panic stack traces, next to the slog lines
		return func(ctx context.Context) error {
			return serve.HTTP(ctx, env.Logger, env.Config.Addr, e)
		}, nil
	})
}

// newRouter is the example API of echoapp plus GET /metrics.
func newRouter(env *serve.Env) (*echo.Echo, error) {
	e, err := echoapp.New(env.Store, env.Shop, env.Options()...)
	if err != nil {
		return nil, err
	}
	e.GET(serve.MetricsPath, echo.WrapHandler(env.Metrics))
	return e, nil
}
