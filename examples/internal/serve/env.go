package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/telemetry"
	idemprom "github.com/idemkit/idempotency/telemetry/prometheus"
)

// Env is everything an example server is built from.
type Env struct {
	Config Config
	Logger *slog.Logger
	// Store is shared by every route of the server.
	Store core.Store
	// Shop is the business logic and its execution counters.
	Shop *shop.Shop
	// Registry is the server's own Prometheus registry: the idemkit
	// metrics plus the Go runtime and process collectors.
	Registry *prometheus.Registry
	// Metrics serves Registry in the Prometheus exposition format, for
	// GET MetricsPath.
	Metrics http.Handler
	// Telemetry receives the events and measurements of every route: it
	// logs events through Logger and records metrics in Registry.
	Telemetry core.TelemetryDriver
	// Extra options end Options, e.g. a test's core.WithMaxResponseBytes.
	Extra []core.Option

	recordKeys []core.RecordKey // parsed from Config.SigningKeys
}

// NewEnv returns the Env of a server on store, with a fresh shop and its
// own Prometheus registry (so that servers in one process, as in tests,
// never share counters).
//
// A Config.SigningKeys that core.ParseRecordKeys refuses is an error (one
// that names no secret).
func NewEnv(cfg Config, logger *slog.Logger, store core.Store) (*Env, error) {
	var keys []core.RecordKey
	if cfg.SigningKeys != "" {
		var err error
		if keys, err = core.ParseRecordKeys(cfg.SigningKeys); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
	}
	reg := prometheus.NewRegistry()
	// One driver per registry, shared by every route's engine: idemprom
	// refuses a second registration of its collectors.
	prom, err := idemprom.New(idemprom.WithRegisterer(reg))
	if err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewGoCollector()); err != nil {
		return nil, err
	}
	if err := reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
		return nil, err
	}
	sh := shop.New()
	if cfg.Bare {
		sh.SetUnclaimed()
	}
	return &Env{
		Config:   cfg,
		Logger:   logger,
		Store:    store,
		Shop:     sh,
		Registry: reg,
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			Registry: reg, // promhttp's own error counters
		}),
		Telemetry:  Tee(telemetry.NewSlog(logger), prom),
		recordKeys: keys,
	}, nil
}

// Options returns the engine options every idempotent route shares
// (given before each route's own settings, so that a route's option tag
// still wins for what it sets): the telemetry, the lease, lock wait,
// derived-key secret and record keys of the Config when set (-lease,
// -lock-wait, -derive-secret, -signing-key, -encrypt), then Extra. The
// store is Store; the servers add it where they wire their routes.
func (e *Env) Options() []core.Option {
	opts := []core.Option{core.WithTelemetry(e.Telemetry)}
	if d := e.Config.Lease; d != nil {
		opts = append(opts, core.WithLease(*d))
	}
	if d := e.Config.LockWait; d != nil {
		opts = append(opts, core.WithLockWait(*d))
	}
	if len(e.Config.DeriveSecret) > 0 {
		opts = append(opts, core.WithDerivedKeySecret([]byte(e.Config.DeriveSecret)))
	}
	if e.Config.SigningKeys != "" {
		opts = append(opts, core.WithRecordKeys(e.recordKeys...))
		if e.Config.Encrypt {
			opts = append(opts, core.WithRecordEncryption())
		}
	}
	return append(opts, e.Extra...)
}

// Tee returns a TelemetryDriver that hands every event and measurement to
// each of drivers, in order. Like any driver, they must not block and
// must not modify what they receive, since the next one sees it too.
func Tee(drivers ...core.TelemetryDriver) core.TelemetryDriver {
	if len(drivers) == 1 {
		return drivers[0]
	}
	return tee(append([]core.TelemetryDriver(nil), drivers...))
}

type tee []core.TelemetryDriver

func (t tee) Event(ctx context.Context, ev *core.Event) {
	for _, d := range t {
		d.Event(ctx, ev)
	}
}

func (t tee) Measure(ctx context.Context, m *core.Measurement) {
	for _, d := range t {
		d.Measure(ctx, m)
	}
}
