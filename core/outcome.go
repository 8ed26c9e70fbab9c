package core

// Outcome is how a request was answered. It is one vocabulary for the
// store and for telemetry: Store.Begin answers with the first six (what it
// found for the key), and the Engine adds the ones that never reach the
// store (missing, invalid, bypass, store_error). Its value is the
// lower-case label telemetry drivers use, so string(o) costs nothing.
type Outcome string

const (
	// OutcomeOriginal: the request claimed the key and ran its handler.
	// From Begin: the caller now owns the key and must Complete or
	// Release it.
	OutcomeOriginal Outcome = "original"
	// OutcomeRepeated: a completed record with the same fingerprint was
	// replayed.
	OutcomeRepeated Outcome = "repeated"
	// OutcomeMismatch: a record with another fingerprint exists (422).
	OutcomeMismatch Outcome = "mismatch"
	// OutcomeConflict: a live claim with the same fingerprint holds the
	// key. From Begin it means "in flight"; the Engine waits up to the
	// lock wait and answers 409 if the key is still held.
	OutcomeConflict Outcome = "conflict"
	// OutcomeUnavailable: a tombstone with the same fingerprint exists:
	// the key ran to completion but its response was not stored (410).
	OutcomeUnavailable Outcome = "unavailable"
	// OutcomeUncertain: an uncertain record with the same fingerprint
	// exists: the key's handler may have had effects, then failed (423).
	OutcomeUncertain Outcome = "uncertain"

	// OutcomeMissing: a required key was missing (400).
	OutcomeMissing Outcome = "missing"
	// OutcomeInvalid: the key or the body was refused (400, 413).
	OutcomeInvalid Outcome = "invalid"
	// OutcomeBypass: the request ran without idempotency (an optional
	// route without a key, or fail-open during a store outage).
	OutcomeBypass Outcome = "bypass"
	// OutcomeStoreError: the store failed or a record could not be
	// trusted, and the request was refused (503, 500).
	OutcomeStoreError Outcome = "store_error"
)

// String returns o's label.
func (o Outcome) String() string { return string(o) }
