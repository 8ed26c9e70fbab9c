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
// bypass and store_error. A cache hit is a replay; a miss is an original.
// Route labels are route patterns; Fiber middleware registered with
// app.Use sees concrete paths, so give it WithoutRouteLabel there to keep
// cardinality bounded.
package idemprom
