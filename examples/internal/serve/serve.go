// Package serve holds the start-up plumbing every example server shares:
// flags, the choice of store, and a net/http server that shuts down
// gracefully. Keeping it here means the Redis store gets wired in one
// place (OpenStore) for all frameworks once it is built into the examples.
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
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// Config is the configuration of an example server.
type Config struct {
	// Addr is the listen address, e.g. ":8080".
	Addr string
	// RedisURL selects the Redis store when set (redis://host:6379/0);
	// empty means the in-memory store.
	RedisURL string
}

// DefaultAddr is the listen address when -addr is not given.
const DefaultAddr = ":8080"

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
		"Redis URL for the shared store, e.g. redis://localhost:6379/0 (default $REDIS_URL; empty: in-memory store)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return cfg, nil
}

// ErrRedisNotBuilt is returned by OpenStore for a Redis URL: the examples
// do not link the Redis store yet. Servers exit with status 2 on it, as
// for a bad flag, rather than silently falling back to memory, which
// would lose idempotency across instances without anyone noticing.
var ErrRedisNotBuilt = errors.New("the Redis store is not built into this example yet; unset -redis / REDIS_URL to use the in-memory store")

// OpenStore returns the store cfg asks for. Every route of a server
// shares it. The in-memory store is a fresh one per call (not
// memory.Default), so that servers started in one process, as the demo
// does, never see each other's keys.
func OpenStore(cfg Config) (core.Store, error) {
	if cfg.RedisURL != "" {
		return nil, ErrRedisNotBuilt
	}
	return memory.New(), nil
}

// Describe returns a short description of the store cfg selects, for the
// start-up log line.
func Describe(cfg Config) string {
	if cfg.RedisURL != "" {
		return "redis"
	}
	return "memory (single process only)"
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
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
