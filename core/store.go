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
	// Begin atomically looks up key and, when no live claim or final
	// record exists, claims it for a.Lease with a new fencing token
	// (OutcomeOriginal). A live claim answers OutcomeConflict (in flight)
	// or, for another fingerprint, OutcomeMismatch. An
	// in-flight record whose lease has expired is taken over by a request
	// with the same fingerprint (its owner is presumed dead), unless the
	// claim is committed (Commit): then Begin turns it into an uncertain
	// record instead, keeps its expiry, reports Stranded (to that Begin,
	// and to that Begin resent with its nonce, so that a lost reply
	// cannot lose the report), and answers OutcomeUncertain
	// (OutcomeMismatch for another fingerprint). A final record answers
	// OutcomeRepeated (completed), OutcomeUnavailable (tombstone) or
	// OutcomeUncertain, or OutcomeMismatch when its fingerprint differs.
	//
	// Begin must be safe to resend: when the in-flight claim was made with
	// a.Nonce (a client library resent a command whose reply was lost),
	// Begin answers OutcomeOriginal with that claim's token again instead of
	// OutcomeConflict, so that a request never waits on its own claim.
	Begin(ctx context.Context, key string, a Attempt) (BeginResult, error)

	// Renew extends the lease of the claim held with token. It returns
	// ErrLeaseLost when the claim is gone or is held with another token.
	Renew(ctx context.Context, key string, token uint64, lease time.Duration) error

	// Commit marks the claim held with token as committed: its handler
	// declared that irreversible effects may happen from now on. A
	// committed claim is never taken over (see Begin). Commit of a claim
	// already committed with token returns nil (a resent command); it
	// returns ErrLeaseLost and changes nothing when the claim is gone, is
	// held with another token, or is no longer in flight.
	//
	// sig is the commitment's signature (record signing, WithRecordKeys),
	// or nil; it is opaque to the store. The store keeps it with the
	// claim, unchanged by Renew and when Begin strands the claim, and
	// returns it as Record.CommitSig for a committed in-flight claim and
	// for the uncertain record Begin made of a stranded claim. A resent
	// Commit carries the same sig.
	Commit(ctx context.Context, key string, token uint64, sig []byte) error

	// Complete ends the claim held with token with a final record of
	// state, kept for ttl:
	//   - StateCompleted: payload is the encoded response, replayed;
	//   - StateTombstone: the handler ran to completion but its response
	//     could not be stored; payload is a short reason for operators;
	//   - StateUncertain: the handler failed after Commit; payload is a
	//     short reason for operators.
	// The fingerprint stays. Complete is fenced: when the claim is not held
	// with token it returns ErrLeaseLost and changes nothing. A final
	// record already written with token is the caller's own earlier
	// command, resent: Complete returns nil and leaves it as it is, with
	// one exception: an uncertain record that Begin made of this token's
	// stranded claim is replaced by StateCompleted or StateTombstone, since
	// its only run has finished after all.
	Complete(ctx context.Context, key string, token uint64, state State, payload []byte, ttl time.Duration) error

	// Release deletes the claim held with token (committed or not) so that
	// a retry runs fresh. It returns ErrLeaseLost and changes nothing when
	// another token holds the record or it is final. An absent record is
	// already released (a resent Release, or a claim that expired):
	// Release returns nil.
	Release(ctx context.Context, key string, token uint64) error

	// Resolve settles a record an operator has looked into: an uncertain
	// record, a tombstone, or a committed claim whose lease has expired.
	// With payload nil it deletes the record, so that the next request
	// runs afresh; otherwise it stores payload as the completed response,
	// kept for ttl with the record's fingerprint, so that retries replay
	// it, under a token no claim holds (0, or a fresh one), so that a late
	// Complete of the previous owner is refused (ErrLeaseLost) rather than
	// taken for its own. It returns ErrNotFound for an absent record and
	// ErrNotResolvable, changing nothing, for any other state (a live
	// claim, a completed record). Unlike the other calls, Resolve is not
	// recognised when resent: an operator's tool should not resend it
	// (idemctl turns go-redis's resends off), since a resent success
	// reports ErrNotFound or ErrNotResolvable.
	Resolve(ctx context.Context, key string, payload []byte, ttl time.Duration) error

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
	// TTL is how long an in-flight record is kept at most without
	// renewal; Renew keeps it at least two leases from the renewal.
	TTL time.Duration
	// Sig is the claim's signature (record signing, WithRecordKeys), or
	// nil. A store keeps it with the claim, unchanged by Renew and Commit
	// and when Begin strands the claim, and returns it as Record.Sig for
	// in-flight and stranded records; it is opaque to the store. A resent
	// Begin carries the same Sig.
	Sig []byte
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

// Notifier is implemented by stores that can tell a waiting request that
// a claim has ended, so that duplicates of an in-flight request are woken
// instead of polling the store (SPEC §7: a duplicate costs at most three
// store calls however long it waits). The Engine watches a key only after
// a Begin answered OutcomeConflict, with one watch per key and process
// however many requests wait on it, and Begins once more after Watch
// returns (a claim that ended between the two is not missed).
//
// Watch arranges for fn to be called once, from any goroutine, when the
// claim on key may have ended after Watch returned: completed, settled
// (tombstone, uncertain) or released, by this process or another (and, as
// the store can, resolved or deleted). A store may rely on a Begin of key
// having answered OutcomeConflict before Watch, as the Engine's always
// has (the Redis store notifies only of claims a Begin found in flight,
// so that uncontended keys cost nothing). A call may be spurious (the Engine just Begins again); a
// notification may also be lost (a dropped connection): the Engine still
// Begins at the end of its lock wait and when the claim's lease runs
// out, so a lost notification costs latency, never correctness. fn must
// not be called with a lock held that stop takes, and must be harmless
// after stop. stop ends the watch; it may be called from fn and more than
// once. Watch returns an error when it cannot watch (the Engine polls
// instead).
type Notifier interface {
	Watch(ctx context.Context, key string, fn func()) (stop func(), err error)
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
	// StateTombstone marks a key whose handler ran to completion but whose
	// response could not be stored (too large, streamed): retries are
	// refused with result-unavailable and never run the handler again.
	StateTombstone
	// StateUncertain marks a key whose handler failed (or whose owner
	// died) after declaring irreversible effects: retries are refused with
	// operation-uncertain until an operator resolves the key or it expires.
	StateUncertain
)

// Final reports whether s ends a claim (completed, tombstone, uncertain).
func (s State) Final() bool { return s >= StateCompleted && s <= StateUncertain }

// String returns "in_flight", "completed", "tombstone" or "uncertain".
func (s State) String() string {
	switch s {
	case StateInFlight:
		return "in_flight"
	case StateCompleted:
		return "completed"
	case StateTombstone:
		return "tombstone"
	case StateUncertain:
		return "uncertain"
	default:
		return "unknown"
	}
}

// Record is what a Store keeps for one scoped key.
type Record struct {
	State       State
	Fingerprint Fingerprint
	// Token is the fencing token of the current claim (in flight) or of the
	// claim that ended the record.
	Token uint64
	// Committed is true for an in-flight claim whose handler declared
	// irreversible effects (Store.Commit).
	Committed bool
	// LeaseUntil is when the in-flight claim expires unless renewed.
	LeaseUntil time.Time
	// ExpiresAt is when the record itself is forgotten.
	ExpiresAt time.Time
	// Payload is the encoded response of a completed record, or the
	// reason of a tombstone or uncertain record. Neither the store nor
	// the caller modifies it once Begin or Get returned it: a replay
	// writes the response's headers and body straight from it.
	Payload []byte
	// Sig is the signature of the claim the record was made by
	// (Attempt.Sig), for an in-flight record and for an uncertain record
	// Begin made of a stranded claim (whose Payload the store wrote);
	// nil when the claim was not signed. Stores return it in Get and in
	// every Begin outcome that carries such a record.
	Sig []byte
	// CommitSig is the signature of the claim's commitment (the sig of
	// Store.Commit), for a committed in-flight record and for an
	// uncertain record Begin made of a stranded claim; nil when the
	// commitment was not signed. It alone vouches for a stranded record:
	// the claim's signature does not, since a claim need never have been
	// committed. Stores return it in Get and in every Begin outcome that
	// carries such a record.
	CommitSig []byte
}

// BeginResult is the answer of Store.Begin.
type BeginResult struct {
	Outcome Outcome
	// Token is the fencing token of the new claim when Outcome is
	// OutcomeOriginal.
	Token uint64
	// TookOver is true when the claim replaced an expired in-flight claim.
	TookOver bool
	// Stranded is true when this Begin found a committed claim whose lease
	// had expired (its owner died after declaring effects) and turned it
	// into an uncertain record. The Engine reports it once
	// (EventOperationUncertain).
	Stranded bool
	// Evicted is the number of completed records the store evicted before
	// their TTL to make room for this claim (a bounded store under
	// pressure). A retry of an evicted key runs its handler again, so the
	// Engine reports it (EventRecordEvicted).
	Evicted int
	// Record is the existing record for every outcome but OutcomeOriginal.
	Record Record
}
