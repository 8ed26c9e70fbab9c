// Package idemotel records idemkit telemetry with OpenTelemetry: metrics
// through a MeterProvider and events on the request's active span.
//
//	d, err := idemotel.New() // global providers (otel.GetMeterProvider)
//	r.Use(otelgin.Middleware("api"), idemgin.New(core.WithTelemetry(d)))
//
// Instruments (meter "github.com/idemkit/idempotency/telemetry/otel"):
//
//	name                          kind       unit       attributes
//	idempotency.requests          counter    {request}  outcome, http.request.method, http.route
//	idempotency.events            counter    {event}    event
//	idempotency.lock_wait         histogram  s          http.route
//	idempotency.handler.duration  histogram  s          http.route
//	idempotency.response.size     histogram  By         http.route
//
// Every event is also added to the span in the request context (for
// example the one otelgin or otelecho started, or the one a consumer
// starts around Engine.Do), named after the event type, with the scope
// kind, the key (redacted unless core.WithKeyRedaction(false)), and the
// status, detail and error where they apply as attributes; each measured
// request sets idempotency.outcome on that span. Bodies are never
// recorded. The driver starts no spans of its own, so it takes no
// TracerProvider: whatever provider started the context's span is used,
// and without a recording span only the metrics are kept.
//
// Calls of Engine.Do are recorded with http.request.method "DO" and
// their scope as http.route.
//
// The driver depends on the OpenTelemetry API only; the application
// chooses and installs the SDK (or none: the global providers are no-ops
// until one is set, and WithMeterProvider takes any metric.MeterProvider).
package idemotel
