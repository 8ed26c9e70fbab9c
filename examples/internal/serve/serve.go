// Package serve holds the start-up plumbing every example server shares:
// flags, the choice of store (memory or Redis, OpenStore), the telemetry
// (slog plus a Prometheus registry per server, NewEnv), the exit codes
// (Main), and listeners that shut down gracefully (HTTP, Listen). Each
// framework's main.go only builds its router from an Env.
package serve

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is the configuration of an example server.
type Config struct {
	// Addr is the listen address, e.g. ":8080".
	Addr string
	// RedisURL selects the Redis store when set (redis://host:6379/0,
	// rediss://..., redis+cluster://host1:6379,host2:6379); empty means
	// the in-memory store.
	RedisURL string
}

// DefaultAddr is the listen address when -addr is not given.
const DefaultAddr = ":8080"

// MetricsPath is where every example server serves its Prometheus
// metrics.
const MetricsPath = "/metrics"

// ParseFlags parses the example servers' flags from args (without the
// program name): -addr and -redis, whose default comes from REDIS_URL so
// a container can be configured by its environment alone.
func ParseFlags(name string, args []string, output io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if output != nil {
		fs.SetOutput(output)
	}
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "listen address")
	fs.StringVar(&cfg.RedisURL, "redis", os.Getenv("REDIS_URL"),
		"Redis URL for the shared store: redis://[user:password@]host:6379/0, rediss://... (TLS)\n"+
			"or redis+cluster://host1:6379,host2:6379 (default $REDIS_URL; empty: in-memory store)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, nil
}

// Server serves an example app until ctx is done, then shuts it down
// gracefully.
type Server func(ctx context.Context) error

// Main runs an example server named name (gin, echo, fiber) with args
// (without the program name), logging to stderr, and returns the process
// exit status: 0 after a clean shutdown (SIGINT, SIGTERM) or -h, 2 for
// usage and configuration errors (a bad flag, a malformed Redis URL, an
// invalid option), 1 when Redis is unreachable at start-up or the server
// fails.
//
// build gets the server's Env (store, shop, telemetry, metrics) and
// returns the framework's Server.
func Main(name string, args []string, stderr io.Writer, build func(env *Env) (Server, error)) int {
	cfg, err := ParseFlags(name, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	// go-redis reports dial failures during an outage through its own
	// logger; send them to the same log, as warnings.
	redis.SetLogger(redisLogger{logger})

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	store, closeStore, err := OpenStore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if errors.Is(err, ErrRedisURL) {
			return 2
		}
		return 1
	}
	defer func() {
		if err := closeStore(); err != nil {
			logger.Warn("closing the store", "err", err)
		}
	}()

	env, err := NewEnv(cfg, logger, store)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 1
	}
	srv, err := build(env)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}

	logger.Info("starting example server", "framework", name, "store", Describe(cfg), "metrics", MetricsPath)
	if err := srv(ctx); err != nil {
		logger.Error("server failed", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// ShutdownTimeout bounds how long in-flight requests get to finish after
// SIGINT or SIGTERM. Letting them finish matters here: a handler cut off
// mid-way leaves its key claimed until the lease expires.
const ShutdownTimeout = 10 * time.Second

// HTTP serves h on addr until ctx is done, then shuts down gracefully.
// It is for frameworks whose router is an http.Handler (Gin, Echo).
func HTTP(ctx context.Context, logger *slog.Logger, addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return HTTPListener(ctx, logger, ln, h)
}

// HTTPListener is HTTP on a listener the caller opened (the demo uses
// loopback listeners on free ports). It closes ln.
func HTTPListener(ctx context.Context, logger *slog.Logger, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return Listener(ctx, logger, ln, srv.Serve, srv.Shutdown)
}

// Listen is HTTP for servers that do not serve through net/http (Fiber):
// it listens on addr, runs serveFn on the listener until ctx is done, then
// calls shutdown, which must make serveFn return and wait at most until
// its context ends for in-flight requests.
func Listen(ctx context.Context, logger *slog.Logger, addr string,
	serveFn func(net.Listener) error, shutdown func(context.Context) error) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Listener(ctx, logger, ln, serveFn, shutdown)
}

// Listener is Listen on a listener the caller opened. serveFn owns ln.
// It logs the bound address ("listening addr=127.0.0.1:41234"), which is
// how a process started with -addr 127.0.0.1:0 tells its port.
func Listener(ctx context.Context, logger *slog.Logger, ln net.Listener,
	serveFn func(net.Listener) error, shutdown func(context.Context) error) error {
	errc := make(chan error, 1)
	go func() { errc <- serveFn(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		if err == nil {
			err = errors.New("server stopped unexpectedly")
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// redisLogger adapts slog to go-redis's internal logger.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
