// Command gin serves the example payments API on Gin with idemgin.
//
//	go run ./examples/gin -addr :8080
//
//	curl -i -X POST localhost:8080/payments \
//	  -H 'Idempotency-Key: 8e03978e-40d5-43e8-bc93-6894a57f9324' \
//	  -H 'X-User-ID: alice' -d '{"amount":1000,"currency":"EUR"}'
//
// Send the same request again: the status, body and Location come back
// with "Idempotency-Status: Repeated", without Set-Cookie, and GET /stats
// shows the handler ran once. See package shop for the routes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/telemetry"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

// run is main with its exit status returned: 2 for usage and
// configuration errors (including a Redis URL, which this example cannot
// honour yet), 1 when the server fails.
func run(args []string, stderr io.Writer) int {
	cfg, err := serve.ParseFlags("gin", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gin:", err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	store, err := serve.OpenStore(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gin:", err)
		return 2
	}
	gin.SetMode(gin.ReleaseMode) // no debug route dump; we log with slog
	h, err := ginapp.New(store, shop.New(), core.WithTelemetry(telemetry.NewSlog(logger)))
	if err != nil {
		fmt.Fprintln(stderr, "gin:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info("starting example server", "framework", "gin", "store", serve.Describe(cfg))
	if err := serve.HTTP(ctx, logger, cfg.Addr, h); err != nil {
		logger.Error("server failed", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}
