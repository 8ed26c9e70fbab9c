// Package idemotel records idemkit telemetry with OpenTelemetry: metrics
// through a MeterProvider and events on the request's active span.
//
//	d, err := idemotel.New() // global providers (otel.GetMeterProvider)
//	r.Use(otelgin.Middleware("api"), idemgin.New(core.WithTelemetry(d)))
//
// Instruments (meter "github.com/idemkit/idempotency/telemetry/otel"):
//
//	idempotency.requests       counter    {outcome, http.request.method, http.route}
//	idempotency.events         counter    {event}
//	idempotency.lock_wait      histogram  s
//	idempotency.handler.duration histogram s
//	idempotency.response.size  histogram  By
//
// Every event is also added to the span in the request context (for
// example the one otelgin or otelecho started), named after the event
// type with its context as attributes, and each measured request sets
// idempotency.outcome on that span. Bodies are never recorded.
package idemotel
