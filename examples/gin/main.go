// Command gin serves the example payments API on Gin with idemgin.
//
//	go run ./examples/gin -addr :8080 [-redis redis://localhost:6379/0] [-lease 30s] [-lock-wait 5s]
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//	curl localhost:8080/metrics
//
// Send the same request again: the status, body and Location come back
// with "Idempotency-Status: Repeated", without Set-Cookie, and GET /stats
// shows the handler ran once. With -redis (or REDIS_URL) several
// instances share the keys. See package shop for the routes and package
// serve for the flags and exit codes.
package main

import (
	"context"
	"io"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned (see serve.Main).
func run(args []string, stderr io.Writer) int {
	return serve.Main("gin", args, stderr, func(env *serve.Env) (serve.Server, error) {
		h, err := newRouter(env)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) error {
			return serve.HTTP(ctx, env.Logger, env.Config.Addr, h)
		}, nil
	})
}

// newRouter is the example API of ginapp plus GET /metrics.
func newRouter(env *serve.Env) (*gin.Engine, error) {
	gin.SetMode(gin.ReleaseMode) // no debug route dump; we log with slog
	r, err := ginapp.New(env.Store, env.Shop, env.Options()...)
	if err != nil {
		return nil, err
	}
	r.GET(serve.MetricsPath, gin.WrapH(env.Metrics))
	return r, nil
}
