// Package telemetry holds the event catalogue helpers and the drivers that
// need nothing beyond the standard library: Null, which drops everything,
// and Slog, which logs events through log/slog. The OpenTelemetry and
// Prometheus drivers live in their own modules (telemetry/otel,
// telemetry/prometheus) so that their dependencies stay out of this one.
package telemetry
