package core

import (
	"context"
	"time"
)

// Store keeps idempotency records. Begin and Complete are each one atomic
// operation on the store; implementations must be safe for concurrent use.
//
// Keys passed to a Store are already scoped by the Engine, so a Store never
// needs to know about users or routes.
type Store interface {
	// Begin atomically looks up key and, when no live claim or completed
	// record exists, claims it for a.Lease with a new fencing token. An
	// in-flight record whose lease has expired is taken over by a request
	// with the same fingerprint (its owner is presumed dead).
	//
	// Begin must be safe to resend: when the in-flight claim was made with
	// a.Nonce (a client library resent a command whose reply was lost),
	// Begin answers Claimed with that claim's token again instead of
	// InFlight, so that a request never waits on its own claim.
	Begin(ctx context.Context, key string, a Attempt) (BeginResult, error)

	// Renew extends the lease of the claim held with token. It returns
	// ErrLeaseLost when the claim is gone or is held with another token.
	Renew(ctx context.Context, key string, token uint64, lease time.Duration) error

	// Complete stores the encoded response for key and keeps it for ttl,
	// but only while the claim is still held with token; otherwise it
	// returns ErrLeaseLost and changes nothing (fencing). A record already
	// completed with token is the caller's own earlier success (a resent
	// command): Complete returns nil and leaves the stored response as it
	// is.
	Complete(ctx context.Context, key string, token uint64, payload []byte, ttl time.Duration) error

	// Release deletes the claim held with token so that a retry runs fresh.
	// It returns ErrLeaseLost and changes nothing when another token holds
	// the record or it is completed. An absent record is already released
	// (a resent Release, or a claim that expired): Release returns nil.
	Release(ctx context.Context, key string, token uint64) error

	// Get returns the record for key, or ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)

	// Delete removes the record for key whatever its state (admin flush).
	// Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Attempt is one request's attempt to claim a key.
type Attempt struct {
	// Fingerprint identifies the request's payload.
	Fingerprint Fingerprint
	// Nonce identifies the attempt. It is random and never 0 when the
	// Engine calls; a store keeps it with the claim so that a resent Begin
	// is recognised (see Store.Begin). 0 means no nonce.
	Nonce uint64
	// Lease is how long the claim holds without renewal.
	Lease time.Duration
	// TTL is how long an in-flight record is kept at most.
	TTL time.Duration
}

// Renewal is one claim to renew in a batch (BatchRenewer).
type Renewal struct {
	Key   string
	Token uint64
	// Err is set by RenewBatch: nil when renewed, ErrLeaseLost when the
	// claim is gone or held with another token, or a store failure.
	Err error
}

// BatchRenewer is implemented by stores that renew many claims in one
// round trip (one pipeline). The Engine renews every due claim of a pass
// with one call, so renewal costs O(1) round trips however many handlers
// run; without it, claims are renewed concurrently one by one.
type BatchRenewer interface {
	RenewBatch(ctx context.Context, lease time.Duration, rs []Renewal)
}

// NonBlocking is implemented by stores whose calls never wait on I/O (the
// in-memory store). The Engine then skips the per-call store deadline,
// which would only cost an allocation.
type NonBlocking interface {
	NonBlocking()
}

// Cooldowns is implemented by stores that can share alert cooldowns between
// instances. Acquire reports true when name was not already held, and then
// holds it for ttl.
type Cooldowns interface {
	AcquireCooldown(ctx context.Context, name string, ttl time.Duration) (bool, error)
}

// State is the life-cycle state of a record.
type State uint8

const (
	// StateInFlight marks a claimed key whose handler has not completed.
	StateInFlight State = iota + 1
	// StateCompleted marks a key whose response is stored.
	StateCompleted
)

// String returns "in_flight" or "completed".
func (s State) String() string {
	switch s {
	case StateInFlight:
		return "in_flight"
	case StateCompleted:
		return "completed"
	default:
		return "unknown"
	}
}

// Record is what a Store keeps for one scoped key.
type Record struct {
	State       State
	Fingerprint Fingerprint
	// Token is the fencing token of the current claim (in flight) or of the
	// claim that completed the record.
	Token uint64
	// LeaseUntil is when the in-flight claim expires unless renewed.
	LeaseUntil time.Time
	// ExpiresAt is when the record itself is forgotten.
	ExpiresAt time.Time
	// Payload is the encoded response of a completed record.
	Payload []byte
}

// Outcome is what Begin found.
type Outcome uint8

const (
	// Claimed means the caller now owns the key and must Complete or Release it.
	Claimed Outcome = iota + 1
	// Replay means a completed record with the same fingerprint exists.
	Replay
	// Mismatch means a record with another fingerprint exists.
	Mismatch
	// InFlight means a live claim with the same fingerprint exists.
	InFlight
)

// String returns the outcome's lower-case name.
func (o Outcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case Replay:
		return "replay"
	case Mismatch:
		return "mismatch"
	case InFlight:
		return "in_flight"
	default:
		return "unknown"
	}
}

// BeginResult is the answer of Store.Begin.
type BeginResult struct {
	Outcome Outcome
	// Token is the fencing token of the new claim when Outcome is Claimed.
	Token uint64
	// TookOver is true when the claim replaced an expired in-flight claim.
	TookOver bool
	// Evicted is the number of completed records the store evicted before
	// their TTL to make room for this claim (a bounded store under
	// pressure). A retry of an evicted key runs its handler again, so the
	// Engine reports it (EventRecordEvicted).
	Evicted int
	// Record is the existing record for Replay, Mismatch and InFlight.
	Record Record
}
