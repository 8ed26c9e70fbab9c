package telemetry

import (
	"log/slog"

	"github.com/idemkit/idempotency/core"
)

// Catalogue lists every event type the Engine fires, in a stable order.
var Catalogue = []core.EventType{
	core.EventResponseDuplicate,
	core.EventPayloadMismatch,
	core.EventConcurrentConflict,
	core.EventLockInconsistency,
	core.EventSizeWarning,
	core.EventExceptionThrown,
	core.EventMissingKey,
	core.EventInvalidKeyFormat,
	core.EventStoreUnavailable,
	core.EventGlobalScopeUser,
	core.EventRecordRejected,
	core.EventRecordEvicted,
	core.EventResultUnavailable,
	core.EventOperationUncertain,
}

// Level is the log level an event deserves: Error for what may break the
// exactly-once guarantee (lost leases, store outages), Warn for client
// misuse and pressure, Info for the rest.
func Level(t core.EventType) slog.Level {
	switch t {
	case core.EventLockInconsistency, core.EventStoreUnavailable, core.EventRecordRejected, core.EventRecordEvicted,
		core.EventOperationUncertain:
		return slog.LevelError
	case core.EventPayloadMismatch, core.EventResponseDuplicate, core.EventSizeWarning,
		core.EventExceptionThrown, core.EventGlobalScopeUser, core.EventConcurrentConflict,
		core.EventResultUnavailable:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// Attrs returns the event's context as slog attributes. It never contains
// a request or response body.
func Attrs(ev *core.Event) []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("event", string(ev.Type)), slog.String("scope", ev.Scope))
	if ev.Key != "" {
		attrs = append(attrs, slog.String("key", ev.Key))
	}
	if ev.Method != "" {
		attrs = append(attrs, slog.String("method", ev.Method), slog.String("route", ev.Route))
	}
	if ev.Status != 0 {
		attrs = append(attrs, slog.Int("status", ev.Status))
	}
	if ev.Hits != 0 {
		attrs = append(attrs, slog.Int("hits", ev.Hits))
	}
	if ev.Size != 0 {
		attrs = append(attrs, slog.Int("size", ev.Size))
	}
	if ev.Elapsed != 0 {
		attrs = append(attrs, slog.Duration("elapsed", ev.Elapsed))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("error", ev.Err.Error()))
	}
	return attrs
}
