// Package idemprom records idemkit telemetry as Prometheus metrics.
//
//	d, err := idemprom.New() // registers with prometheus.DefaultRegisterer
//	r.Use(idemgin.New(core.WithTelemetry(d)))
//	http.Handle("/metrics", promhttp.Handler())
//
// Metrics (namespace "idempotency" by default):
//
//	idempotency_requests_total{outcome,method,route}   counter
//	idempotency_cache_total{result="hit"|"miss"}        counter
//	idempotency_events_total{event}                     counter
//	idempotency_lock_wait_seconds{route}                histogram
//	idempotency_handler_seconds{route}                  histogram
//	idempotency_response_size_bytes{route}              histogram
//
// Outcomes are original, repeated, mismatch, conflict, missing, invalid,
// bypass, store_error, unavailable (a retry of a tombstoned key) and
// uncertain (a retry of an uncertain key). A cache hit is a replay; a
// miss is an original. Every event of the catalogue and both cache
// results are exported at zero from the start, so alerts and rate() work
// before the first occurrence.
//
// Route labels are route patterns, never concrete paths (under Fiber's
// app.Use and Group too, the adapters label by the matched route). Calls
// of Engine.Do are labelled method "DO" and their scope as the route
// (so keep Do scopes few: one per queue or webhook source, not per tenant).
// WithoutRouteLabel records route="" for an application with too many
// routes, or a custom adapter that reports concrete paths.
//
// Create one Driver per registry (New fails on a second registration)
// and share it between the engines of the process.
package idemprom
