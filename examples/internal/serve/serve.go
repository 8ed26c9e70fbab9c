// Package serve holds the start-up plumbing every example server shares:
// flags, the choice of store (memory, Redis or PostgreSQL: OpenStore,
// OpenPostgres), the telemetry
// (slog plus a Prometheus registry per server, NewEnv), the exit codes
// (Main), and listeners that shut down gracefully (HTTP, Listen). Each
// framework's main.go only builds its router from an Env.
package serve

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/pgshop"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

// Config is the configuration of an example server.
type Config struct {
	// Addr is the listen address, e.g. ":8080".
	Addr string
	// RedisURL selects the Redis store when set (redis://host:6379/0,
	// rediss://..., redis+cluster://host1:6379,host2:6379); empty means
	// the in-memory store.
	RedisURL string
	// PostgresURL selects the PostgreSQL store (idempg) when set
	// (postgres://user:password@host:5432/db?pool_max_conns=8): POST
	// /payments then writes its payment row in the claim's transaction
	// (package pgshop). At most one of RedisURL and PostgresURL is set.
	PostgresURL string
	// Lease and LockWait, when set, are the engine's lease
	// (core.WithLease) and lock wait (core.WithLockWait) for every
	// idempotent route; nil keeps the engine's defaults
	// (core.DefaultLease, core.DefaultLockWait). A route's own option tag
	// still wins for what it sets.
	Lease, LockWait *time.Duration
	// DeriveSecret, when set, is the secret of core.DerivedKey
	// (core.WithDerivedKeySecret): payments and refunds then show the
	// payment provider key they would send (shop.ProviderKeyHeader). It
	// holds the decoded bytes, in a string to keep Config comparable.
	DeriveSecret string
	// MemoryMaxEntries and MemoryMaxBytes, when above zero, bound the
	// in-memory store (memory.WithMaxEntries, memory.WithMaxBytes); zero
	// keeps its defaults (memory.DefaultMaxEntries,
	// memory.DefaultMaxBytes). They have no meaning with Redis.
	MemoryMaxEntries int
	MemoryMaxBytes   int64
	// SigningKeys, when set, is the ring of record keys
	// (core.WithRecordKeys) as -signing-key gives it: a bare secret, or
	// "id:secret[,id:secret...]" with the signing key first (validated
	// by core.ParseRecordKeys). Every record the server stores is signed,
	// and a record that does not verify is refused with 503. A string, to
	// keep Config comparable; never log it.
	SigningKeys string
	// Encrypt adds core.WithRecordEncryption (needs SigningKeys).
	Encrypt bool
	// Bare serves the same routes, handlers and outer middlewares
	// (request id, recovery, user) without the idempotency middleware,
	// and lets payments and refunds charge without a claim
	// (shop.Shop.SetUnclaimed): the baseline of the end-to-end benchmark
	// (go run ./examples/load -suite e2e). Never for real traffic: no
	// request is deduplicated.
	Bare bool
}

// The environment variables that give -lease and -lock-wait their
// defaults, as REDIS_URL does for -redis.
const (
	EnvLease    = "IDEMKIT_LEASE"
	EnvLockWait = "IDEMKIT_LOCK_WAIT"
	// EnvDeriveSecret gives -derive-secret its default; a secret is
	// better kept out of the process's argument list, visible to every
	// local user.
	EnvDeriveSecret = "IDEMKIT_DERIVE_SECRET"
	// EnvMemoryMaxEntries and EnvMemoryMaxBytes give -memory-max-entries
	// and -memory-max-bytes their defaults.
	EnvMemoryMaxEntries = "IDEMKIT_MEMORY_MAX_ENTRIES"
	EnvMemoryMaxBytes   = "IDEMKIT_MEMORY_MAX_BYTES"
	// EnvSigningKey gives -signing-key its default, and EnvEncrypt
	// -encrypt's.
	EnvSigningKey = "IDEMKIT_SIGNING_KEY"
	EnvEncrypt    = "IDEMKIT_ENCRYPT"
)

// DefaultAddr is the listen address when -addr is not given.
const DefaultAddr = ":8080"

// MetricsPath is where every example server serves its Prometheus
// metrics.
const MetricsPath = "/metrics"

// ParseFlags parses the example servers' flags from args (without the
// program name): -addr; -redis, whose default comes from REDIS_URL;
// -postgres, whose default comes from DATABASE_URL (not both: an error);
// and
// -lease and -lock-wait, whose defaults come from IDEMKIT_LEASE and
// IDEMKIT_LOCK_WAIT, so a container can be configured by its environment
// alone. A malformed or out-of-range duration, from a flag or the
// environment, is an error naming it.
func ParseFlags(name string, args []string, output io.Writer) (Config, error) {
	var cfg Config
	var maxEntries int64
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if output != nil {
		fs.SetOutput(output)
	}
	for _, e := range []struct {
		name string
		p    **time.Duration
	}{{EnvLease, &cfg.Lease}, {EnvLockWait, &cfg.LockWait}} {
		if v := os.Getenv(e.name); v != "" {
			if err := (durationValue{e.p}).Set(v); err != nil {
				return cfg, fmt.Errorf("%s=%q: %w", e.name, v, err)
			}
		}
	}
	for _, e := range []struct {
		name string
		p    *int64
	}{{EnvMemoryMaxEntries, &maxEntries}, {EnvMemoryMaxBytes, &cfg.MemoryMaxBytes}} {
		if v := os.Getenv(e.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return cfg, fmt.Errorf("%s=%q: not an integer", e.name, v)
			}
			*e.p = n
		}
	}
	cfg.SigningKeys = os.Getenv(EnvSigningKey)
	if cfg.SigningKeys != "" {
		if _, err := core.ParseRecordKeys(cfg.SigningKeys); err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvSigningKey, err)
		}
	}
	if v := os.Getenv(EnvEncrypt); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, fmt.Errorf("%s=%q: not a boolean", EnvEncrypt, v)
		}
		cfg.Encrypt = on
	}
	secret := os.Getenv(EnvDeriveSecret)
	if secret != "" {
		// Like the durations: a flag does not excuse a malformed variable.
		if _, err := decodeSecret(secret); err != nil {
			return cfg, fmt.Errorf("%s: %w", EnvDeriveSecret, err)
		}
	}
	fs.StringVar(&secret, "derive-secret", secret, fmt.Sprintf(
		"secret (hex or base64, at least %d bytes) of the payment provider keys derived per operation\n"+
			"(core.DerivedKey), shown in the %s header; share it between instances (default $%s; empty: none)",
		core.MinDerivedKeySecret, shop.ProviderKeyHeader, EnvDeriveSecret))
	fs.StringVar(&cfg.Addr, "addr", DefaultAddr, "listen address")
	fs.StringVar(&cfg.RedisURL, "redis", os.Getenv("REDIS_URL"),
		"Redis URL for the shared store: redis://[user:password@]host:6379/0, rediss://... (TLS)\n"+
			"or redis+cluster://host1:6379,host2:6379 (default $REDIS_URL; empty: in-memory store)")
	fs.StringVar(&cfg.PostgresURL, "postgres", os.Getenv(EnvDatabaseURL),
		"PostgreSQL URL for the shared store: postgres://[user[:password]@]host:5432/db[?pool_max_conns=8];\n"+
			"payments are then written in the same transaction as their idempotency record (default $"+EnvDatabaseURL+";\n"+
			"empty: in-memory store; not with -redis)")
	fs.Var(durationValue{&cfg.Lease}, "lease", fmt.Sprintf(
		"lease (a `duration`) of the claims of every idempotent route: how long a crashed instance's\n"+
			"claim blocks its key (renewed every lease/3 while the handler runs; default $%s, then %v)", EnvLease, core.DefaultLease))
	fs.Var(durationValue{&cfg.LockWait}, "lock-wait", fmt.Sprintf(
		"how long (a `duration`) a duplicate of an in-flight request waits for the original before\n"+
			"409 Conflict, on every idempotent route (0: at once; default $%s, then %v)", EnvLockWait, core.DefaultLockWait))
	fs.Int64Var(&maxEntries, "memory-max-entries", maxEntries, fmt.Sprintf(
		"bound of the in-memory store in records; past it, completed records are evicted before their TTL\n"+
			"(RECORD_EVICTED) (default $%s, then %d)", EnvMemoryMaxEntries, memory.DefaultMaxEntries))
	fs.Int64Var(&cfg.MemoryMaxBytes, "memory-max-bytes", cfg.MemoryMaxBytes, fmt.Sprintf(
		"bound of the in-memory store in accounted bytes (default $%s, then %d)", EnvMemoryMaxBytes, memory.DefaultMaxBytes))
	fs.StringVar(&cfg.SigningKeys, "signing-key", cfg.SigningKeys, fmt.Sprintf(
		"record signing key (hex or base64, at least %d bytes), or a key ring \"id:secret,id:secret\" whose first\n"+
			"key signs and any verifies (rotation); every instance sharing a store needs the same ring. Records are\n"+
			"signed (HMAC-SHA256) and one that does not verify is refused with 503 (default $%s; empty: unsigned)",
		core.MinRecordSecret, EnvSigningKey))
	fs.BoolVar(&cfg.Encrypt, "encrypt", cfg.Encrypt, fmt.Sprintf(
		"encrypt stored responses (AES-256-GCM) under the signing key; needs -signing-key (default $%s)", EnvEncrypt))
	fs.BoolVar(&cfg.Bare, "bare", false,
		"benchmark baseline: the same routes and handlers WITHOUT the idempotency middleware (nothing is\n"+
			"deduplicated; payments charge without a claim); the store flags are then unused")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if maxEntries < 0 || maxEntries > math.MaxInt32 {
		return cfg, fmt.Errorf("-memory-max-entries (or %s) %d: want 0 (the default) to %d", EnvMemoryMaxEntries, maxEntries, math.MaxInt32)
	}
	cfg.MemoryMaxEntries = int(maxEntries)
	if cfg.MemoryMaxBytes < 0 {
		return cfg, fmt.Errorf("-memory-max-bytes (or %s) %d: want 0 (the default) or more", EnvMemoryMaxBytes, cfg.MemoryMaxBytes)
	}
	if cfg.RedisURL != "" && (cfg.MemoryMaxEntries > 0 || cfg.MemoryMaxBytes > 0) {
		return cfg, errors.New("-memory-max-entries and -memory-max-bytes bound the in-memory store: not with -redis (or REDIS_URL)")
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.RedisURL != "" && cfg.PostgresURL != "" {
		return cfg, fmt.Errorf("-redis (or REDIS_URL) and -postgres (or %s) are both set: choose one store "+
			"(an empty flag, -redis= or -postgres=, overrides its variable)", EnvDatabaseURL)
	}
	if cfg.SigningKeys != "" {
		if _, err := core.ParseRecordKeys(cfg.SigningKeys); err != nil {
			// core's message names the key id, never the secret.
			return cfg, fmt.Errorf("-signing-key (or %s): %w", EnvSigningKey, err)
		}
	}
	if cfg.Encrypt && cfg.SigningKeys == "" {
		return cfg, fmt.Errorf("-encrypt (or %s) needs -signing-key (or %s)", EnvEncrypt, EnvSigningKey)
	}
	if secret != "" {
		b, err := decodeSecret(secret)
		if err != nil {
			// Not the value: it is a secret, and it may be in a log.
			return cfg, fmt.Errorf("-derive-secret (or %s): %w", EnvDeriveSecret, err)
		}
		cfg.DeriveSecret = string(b)
	}
	if err := cfg.validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// decodeSecret decodes a secret given as hex or as base64 (standard or
// URL alphabet, padded or not). Hex is tried first: a hex string is valid
// base64 too, and would decode to other bytes.
func decodeSecret(s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err = enc.DecodeString(s); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, errors.New("neither hex nor base64")
	}
	if len(b) < core.MinDerivedKeySecret {
		return nil, fmt.Errorf("%d bytes, want at least %d", len(b), core.MinDerivedKeySecret)
	}
	return b, nil
}

// durationValue is a flag.Value for an optional duration, nil until set.
type durationValue struct{ p **time.Duration }

func (v durationValue) String() string {
	if v.p == nil || *v.p == nil {
		return ""
	}
	return (**v.p).String()
}

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration (e.g. 30s, 500ms)")
	}
	*v.p = &d
	return nil
}

// validate checks the engine settings of cfg the way the engine will, so
// that a bad -lease or -lock-wait is reported as such, before any route
// is built.
func (cfg Config) validate() error {
	for _, s := range []struct {
		flag, env string
		d         *time.Duration
		opt       func(time.Duration) core.Option
	}{
		{"-lease", EnvLease, cfg.Lease, core.WithLease},
		{"-lock-wait", EnvLockWait, cfg.LockWait, core.WithLockWait},
	} {
		if s.d == nil {
			continue
		}
		if _, err := core.New(core.WithStore(memory.New()), s.opt(*s.d)); err != nil {
			return fmt.Errorf("%s (or %s) %v: %w", s.flag, s.env, *s.d, err)
		}
	}
	return nil
}

// Server serves an example app until ctx is done, then shuts it down
// gracefully.
type Server func(ctx context.Context) error

// Main runs an example server named name (gin, echo, fiber) with args
// (without the program name), logging to stderr, and returns the process
// exit status: 0 after a clean shutdown (SIGINT, SIGTERM) or -h, 2 for
// usage and configuration errors (a bad flag, a malformed Redis URL, an
// invalid option), 1 when Redis or PostgreSQL is unreachable at start-up
// or the server fails. With -postgres the shop records its payments in
// the claims' transactions (shop.Shop.SetLedger), except under -bare.
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

	var (
		store      core.Store
		closeStore func() error
		ledger     *pgshop.Ledger
	)
	if cfg.PostgresURL != "" {
		var pg *Postgres
		if pg, err = OpenPostgres(ctx, cfg.PostgresURL); err == nil {
			store, closeStore, ledger = pg.Store, pg.Close, pg.Ledger
		}
	} else {
		store, closeStore, err = OpenStore(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if errors.Is(err, ErrRedisURL) || errors.Is(err, ErrPostgresURL) {
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
	if ledger != nil && !cfg.Bare {
		// -bare has no claims, hence no transactions to write in.
		env.Shop.SetLedger(ledger)
	}
	srv, err := build(env)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return 2
	}

	if cfg.Bare {
		logger.Warn("-bare: serving WITHOUT the idempotency middleware (benchmark baseline)")
	}
	logger.Info("starting example server", "framework", name, "store", Describe(cfg), "bare", cfg.Bare, "metrics", MetricsPath,
		"lease", orDefault(cfg.Lease, core.DefaultLease), "lock_wait", orDefault(cfg.LockWait, core.DefaultLockWait),
		"signed_records", cfg.SigningKeys != "", "encrypted_records", cfg.Encrypt)
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

func orDefault(d *time.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return *d
}

// redisLogger adapts slog to go-redis's internal logger.
type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
