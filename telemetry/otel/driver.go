package idemotel

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/idemkit/idempotency/core"
)

// ScopeName is the instrumentation scope of the meter.
const ScopeName = "github.com/idemkit/idempotency/telemetry/otel"

var _ core.TelemetryDriver = (*Driver)(nil)

type config struct {
	provider metric.MeterProvider
}

// Option configures the driver.
type Option func(*config)

// WithMeterProvider sets the meter provider. Default: the global one
// (otel.GetMeterProvider()), as OpenTelemetry instrumentations do.
func WithMeterProvider(p metric.MeterProvider) Option {
	return func(c *config) { c.provider = p }
}

// Driver is a core.TelemetryDriver for OpenTelemetry.
type Driver struct {
	requests metric.Int64Counter
	events   metric.Int64Counter
	lockWait metric.Float64Histogram
	handler  metric.Float64Histogram
	size     metric.Int64Histogram
}

// New creates the instruments.
func New(opts ...Option) (*Driver, error) {
	c := config{}
	for _, o := range opts {
		o(&c)
	}
	if c.provider == nil {
		c.provider = otel.GetMeterProvider()
	}
	m := c.provider.Meter(ScopeName)
	d := &Driver{}
	var err error
	if d.requests, err = m.Int64Counter("idempotency.requests", metric.WithDescription("Requests that reached the idempotency engine, by outcome."), metric.WithUnit("{request}")); err != nil {
		return nil, err
	}
	if d.events, err = m.Int64Counter("idempotency.events", metric.WithDescription("Events of the idempotency event catalogue."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if d.lockWait, err = m.Float64Histogram("idempotency.lock_wait", metric.WithDescription("Time duplicates waited for an in-flight original."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if d.handler, err = m.Float64Histogram("idempotency.handler.duration", metric.WithDescription("Handler time of original requests."), metric.WithUnit("s")); err != nil {
		return nil, err
	}
	if d.size, err = m.Int64Histogram("idempotency.response.size", metric.WithDescription("Body size of stored and replayed responses."), metric.WithUnit("By")); err != nil {
		return nil, err
	}
	return d, nil
}

// Event implements core.TelemetryDriver.
func (d *Driver) Event(ctx context.Context, ev *core.Event) {
	d.events.Add(ctx, 1, metric.WithAttributes(attribute.String("event", string(ev.Type))))
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String("idempotency.scope", ev.Scope),
		attribute.String("idempotency.key", ev.Key),
	}
	if ev.Status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", ev.Status))
	}
	if ev.Detail != "" {
		attrs = append(attrs, attribute.String("idempotency.detail", ev.Detail))
	}
	if ev.Err != nil {
		attrs = append(attrs, attribute.String("error.message", ev.Err.Error()))
	}
	span.AddEvent(string(ev.Type), trace.WithAttributes(attrs...))
}

// Measure implements core.TelemetryDriver.
func (d *Driver) Measure(ctx context.Context, m *core.Measurement) {
	route := attribute.String("http.route", m.Route)
	d.requests.Add(ctx, 1, metric.WithAttributes(
		attribute.String("outcome", string(m.Outcome)),
		attribute.String("http.request.method", m.Method),
		route,
	))
	if m.LockWait > 0 {
		d.lockWait.Record(ctx, m.LockWait.Seconds(), metric.WithAttributes(route))
	}
	if m.Outcome == core.OutcomeOriginal {
		d.handler.Record(ctx, m.HandlerTime.Seconds(), metric.WithAttributes(route))
	}
	if m.Outcome == core.OutcomeRepeated || m.Stored {
		d.size.Record(ctx, int64(m.ResponseSize), metric.WithAttributes(route))
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("idempotency.outcome", string(m.Outcome)))
	}
}
