package idemprom

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/telemetry"
)

var _ core.TelemetryDriver = (*Driver)(nil)

// Driver is a core.TelemetryDriver backed by Prometheus collectors.
type Driver struct {
	routeLabel bool
	requests   *prometheus.CounterVec
	cache      *prometheus.CounterVec
	events     *prometheus.CounterVec
	lockWait   *prometheus.HistogramVec
	handler    *prometheus.HistogramVec
	size       *prometheus.HistogramVec
}

// New creates the collectors and registers them. It fails when they are
// already registered with the same registerer (create one Driver per
// registry and share it between engines).
func New(opts ...Option) (*Driver, error) {
	c := config{registerer: prometheus.DefaultRegisterer, namespace: "idempotency", routeLabel: true, buckets: prometheus.DefBuckets}
	for _, o := range opts {
		o(&c)
	}
	d := &Driver{
		routeLabel: c.routeLabel,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: c.namespace, Name: "requests_total",
			Help: "Requests that reached the idempotency engine, by outcome.",
		}, []string{"outcome", "method", "route"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: c.namespace, Name: "cache_total",
			Help: "Keyed requests answered from the store (hit) or by running the handler (miss).",
		}, []string{"result"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: c.namespace, Name: "events_total",
			Help: "Events of the idempotency event catalogue.",
		}, []string{"event"}),
		lockWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: c.namespace, Name: "lock_wait_seconds", Buckets: c.buckets,
			Help: "Time duplicates waited for an in-flight original.",
		}, []string{"route"}),
		handler: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: c.namespace, Name: "handler_seconds", Buckets: c.buckets,
			Help: "Handler time of original requests.",
		}, []string{"route"}),
		size: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: c.namespace, Name: "response_size_bytes",
			Buckets: prometheus.ExponentialBuckets(64, 4, 9),
			Help:    "Body size of stored and replayed responses.",
		}, []string{"route"}),
	}
	for _, col := range []prometheus.Collector{d.requests, d.cache, d.events, d.lockWait, d.handler, d.size} {
		if err := c.registerer.Register(col); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, errors.New("idemprom: collectors already registered; share one Driver per registry")
			}
			return nil, err
		}
	}
	// Outcomes and events appear at zero from the start, so dashboards and
	// rate() work before the first occurrence.
	for _, ev := range telemetry.Catalogue {
		d.events.WithLabelValues(string(ev))
	}
	d.cache.WithLabelValues("hit")
	d.cache.WithLabelValues("miss")
	return d, nil
}

func (d *Driver) route(r string) string {
	if d.routeLabel {
		return r
	}
	return ""
}

// Event implements core.TelemetryDriver.
func (d *Driver) Event(_ context.Context, ev *core.Event) {
	d.events.WithLabelValues(string(ev.Type)).Inc()
}

// Measure implements core.TelemetryDriver.
func (d *Driver) Measure(_ context.Context, m *core.Measurement) {
	route := d.route(m.Route)
	d.requests.WithLabelValues(string(m.Outcome), m.Method, route).Inc()
	switch m.Outcome {
	case core.OutcomeRepeated:
		d.cache.WithLabelValues("hit").Inc()
		d.size.WithLabelValues(route).Observe(float64(m.ResponseSize))
	case core.OutcomeOriginal:
		d.cache.WithLabelValues("miss").Inc()
		d.handler.WithLabelValues(route).Observe(m.HandlerTime.Seconds())
		if m.Stored {
			d.size.WithLabelValues(route).Observe(float64(m.ResponseSize))
		}
	}
	if m.LockWait > 0 {
		d.lockWait.WithLabelValues(route).Observe(m.LockWait.Seconds())
	}
}
