package telemetry

import (
	"context"
	"log/slog"

	"github.com/idemkit/idempotency/core"
)

var _ core.TelemetryDriver = (*Slog)(nil)

// Slog logs events through a *slog.Logger at the level Level gives, with
// the message "idempotency: " and the event's detail. Measurements are
// logged at Debug, so they cost nothing unless the handler enables Debug.
type Slog struct {
	logger *slog.Logger
}

// NewSlog returns a driver logging to logger, or to slog.Default() when
// logger is nil.
func NewSlog(logger *slog.Logger) *Slog {
	if logger == nil {
		logger = slog.Default()
	}
	return &Slog{logger: logger}
}

// Event implements core.TelemetryDriver.
func (s *Slog) Event(ctx context.Context, ev *core.Event) {
	lvl := Level(ev.Type)
	if !s.logger.Enabled(ctx, lvl) {
		return
	}
	msg := "idempotency: " + string(ev.Type)
	if ev.Detail != "" {
		msg += ": " + ev.Detail
	}
	s.logger.LogAttrs(ctx, lvl, msg, Attrs(ev)...)
}

// Measure implements core.TelemetryDriver.
func (s *Slog) Measure(ctx context.Context, m *core.Measurement) {
	if !s.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	s.logger.LogAttrs(ctx, slog.LevelDebug, "idempotency: request",
		slog.String("outcome", string(m.Outcome)),
		slog.String("method", m.Method),
		slog.String("route", m.Route),
		slog.Int("status", m.Status),
		slog.Duration("lock_wait", m.LockWait),
		slog.Duration("handler_time", m.HandlerTime),
		slog.Int("response_size", m.ResponseSize),
		slog.Bool("stored", m.Stored),
	)
}
