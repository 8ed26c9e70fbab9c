package core

import (
	"context"
	"time"
)

// EventType names an event of the catalogue.
type EventType string

// The event catalogue.
const (
	// EventResponseDuplicate: one key was replayed more often than the
	// duplicate threshold (a client retrying in a loop).
	EventResponseDuplicate EventType = "RESPONSE_DUPLICATE"
	// EventPayloadMismatch: a key was reused with a different request.
	EventPayloadMismatch EventType = "PAYLOAD_MISMATCH"
	// EventConcurrentConflict: a duplicate arrived while the original was
	// in flight and it was still in flight after the lock wait (409).
	EventConcurrentConflict EventType = "CONCURRENT_CONFLICT"
	// EventLockInconsistency: a claim's lease was lost while its handler
	// ran, so its result was not stored (fencing rejected it).
	EventLockInconsistency EventType = "LOCK_INCONSISTENCY"
	// EventSizeWarning: a response was larger than the size warning, or too
	// large to be stored.
	EventSizeWarning EventType = "SIZE_WARNING"
	// EventExceptionThrown: the handler panicked or returned an error; the
	// claim was released.
	EventExceptionThrown EventType = "EXCEPTION_THROWN"
	// EventMissingKey: a required key was missing (400).
	EventMissingKey EventType = "MISSING_KEY"
	// EventInvalidKeyFormat: a key failed validation (400).
	EventInvalidKeyFormat EventType = "INVALID_KEY_FORMAT"
	// EventStoreUnavailable: the store failed; the request failed closed
	// (503) or open.
	EventStoreUnavailable EventType = "STORE_UNAVAILABLE"
	// EventGlobalScopeUser: the global scope saw an authenticated user,
	// whose keys can then collide with other users'. Fired once per Engine.
	EventGlobalScopeUser EventType = "GLOBAL_SCOPE_WITH_USER"
	// EventRecordRejected: a stored record could not be trusted (unknown
	// format version, undecodable); the request failed closed (503).
	EventRecordRejected EventType = "RECORD_REJECTED"
	// EventRecordEvicted: a bounded store (memory) evicted completed
	// records before their TTL to make room (Event.Hits says how many); a
	// retry of those keys runs its handler again.
	EventRecordEvicted EventType = "RECORD_EVICTED"
	// EventResultUnavailable: a handler ran to completion but its response
	// could not be stored (too large, streamed): a tombstone was written,
	// and retries get result-unavailable instead of running again.
	EventResultUnavailable EventType = "RESULT_UNAVAILABLE"
	// EventOperationUncertain: a handler failed, or its owner died, after
	// declaring irreversible effects: the key is blocked (retries get
	// operation-uncertain) until an operator resolves it or it expires.
	EventOperationUncertain EventType = "OPERATION_UNCERTAIN"
)

// Event is one occurrence of the catalogue. It never carries a request or
// response body.
type Event struct {
	Type EventType
	Time time.Time
	// Scope is the scope kind ("user_route", or "custom" for a scope
	// resolver): the scope value itself may hold a user id and is not
	// included. For Engine.Do it is the scope Do was called with.
	Scope string
	// Key is the idempotency key, redacted to "h:" and a hash prefix
	// unless key redaction is off.
	Key    string
	Method string
	Route  string
	Status int
	// Hits counts replays of the key (RESPONSE_DUPLICATE).
	Hits int
	// Size is the response size in bytes (SIZE_WARNING).
	Size int
	// Elapsed is the handler or wait time, where it applies.
	Elapsed time.Duration
	// Detail is a short human-readable explanation.
	Detail string
	// Err is the underlying error, if any.
	Err error
}

// Measurement describes one request that reached the Engine (a routed
// request with the idempotency middleware, or a Do call). The Engine
// fills one per request as it learns each fact and hands it to the
// telemetry driver once, when the request is answered, also when its
// handler panicked.
type Measurement struct {
	Outcome Outcome
	// Method is the request method ("DO" for Engine.Do).
	Method string
	// Route is the matched route pattern (the scope for Engine.Do), never
	// a concrete path.
	Route string
	// Status is the status answered: the stored or replayed response's,
	// the problem's, 500 after a panic, 0 when the request passed
	// through (bypass) or the handler returned an error.
	Status int
	// LockWait is how long the request waited for an in-flight original.
	LockWait time.Duration
	// HandlerTime is how long the handler ran (originals only).
	HandlerTime time.Duration
	// ResponseSize is the stored or replayed body size in bytes.
	ResponseSize int
	// Stored is true when the original's response was stored.
	Stored bool
}

// TelemetryDriver receives events and measurements. Implementations must
// be safe for concurrent use and must not block: they run on the request
// path. The *Event and *Measurement are valid only during the call.
type TelemetryDriver interface {
	Event(ctx context.Context, ev *Event)
	Measure(ctx context.Context, m *Measurement)
}

// AlertHandler receives events after the cooldown let them through.
type AlertHandler func(ctx context.Context, ev Event)

// NullTelemetry drops every event and measurement. It is the Engine's
// default driver, and the Engine recognises it: with it, no measurement
// is built at all. telemetry.Null is the same type.
type NullTelemetry struct{}

// Event implements TelemetryDriver.
func (NullTelemetry) Event(context.Context, *Event) {}

// Measure implements TelemetryDriver.
func (NullTelemetry) Measure(context.Context, *Measurement) {}
