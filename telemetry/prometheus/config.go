package idemprom

import "github.com/prometheus/client_golang/prometheus"

type config struct {
	registerer prometheus.Registerer
	namespace  string
	routeLabel bool
	buckets    []float64
}

// Option configures the driver.
type Option func(*config)

// WithRegisterer registers the collectors with reg.
// Default prometheus.DefaultRegisterer.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) { c.registerer = reg }
}

// WithNamespace sets the metric name prefix. Default "idempotency".
func WithNamespace(ns string) Option {
	return func(c *config) { c.namespace = ns }
}

// WithoutRouteLabel records every route under route="", for applications
// with so many routes (or Engine.Do scopes, which label the route) that a
// series per route costs too much. The label is a matched route pattern,
// never a concrete path. Default: route patterns.
func WithoutRouteLabel() Option {
	return func(c *config) { c.routeLabel = false }
}

// WithDurationBuckets sets the buckets of the duration histograms, in
// seconds. Default prometheus.DefBuckets.
func WithDurationBuckets(b []float64) Option {
	return func(c *config) { c.buckets = b }
}
