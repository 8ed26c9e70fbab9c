package core

import "errors"

// Sentinel errors. Stores wrap their own failures in ErrStoreUnavailable so
// that the Engine can tell an outage (fail closed or open) from a protocol
// answer such as ErrLeaseLost.
var (
	// ErrNotFound is returned by Store.Get for an unknown key.
	ErrNotFound = errors.New("idempotency: record not found")
	// ErrLeaseLost is returned when a claim is no longer held with the
	// caller's fencing token: its lease expired and another request took
	// it over, or it was flushed.
	ErrLeaseLost = errors.New("idempotency: lease lost (fencing token rejected)")
	// ErrStoreUnavailable wraps a store failure (network, timeout, outage).
	ErrStoreUnavailable = errors.New("idempotency: store unavailable")
	// ErrBodyTooLarge is returned by Exchange.Body when the request body
	// exceeds the configured limit.
	ErrBodyTooLarge = errors.New("idempotency: request body too large")
	// ErrMultipartLimit is wrapped by the error CanonicalHasher returns for
	// a multipart body with more parts, or more bytes of part headers,
	// than its limits allow (WithMultipartLimits).
	ErrMultipartLimit = errors.New("idempotency: multipart body over the part limits")
	// ErrInvalidOption is wrapped by every construction error.
	ErrInvalidOption = errors.New("idempotency: invalid option")
	// ErrCorruptRecord is returned when a stored payload cannot be decoded.
	ErrCorruptRecord = errors.New("idempotency: corrupt record")
	// ErrInFlight is returned by Engine.Do when the key is still being
	// processed elsewhere after the lock wait.
	ErrInFlight = errors.New("idempotency: request with this key is in flight")
	// ErrMismatch is returned by Engine.Do when the key was used with a
	// different fingerprint.
	ErrMismatch = errors.New("idempotency: key reused with a different payload")
	// ErrResultUnavailable is returned by Engine.Do for a key whose
	// function ran to completion but whose result could not be stored (a
	// tombstone): it will not run again for that key.
	ErrResultUnavailable = errors.New("idempotency: operation ran but its result is unavailable")
	// ErrUncertain is returned by Engine.Do for a key whose function failed
	// after declaring irreversible effects (or whose owner died then): it
	// will not run again until an operator resolves the key (Resolve).
	ErrUncertain = errors.New("idempotency: operation outcome uncertain; resolve the key")
	// ErrNotResolvable is returned by Store.Resolve and Engine.Resolve for
	// a record that is neither uncertain, a tombstone, nor a committed
	// claim whose lease expired.
	ErrNotResolvable = errors.New("idempotency: record is not uncertain or a tombstone")
	// ErrPayloadTooLarge is wrapped by a store's refusal of a payload it can
	// never hold (the memory store's per-record byte bound). Retrying
	// cannot help, so the Engine writes a tombstone instead: the response
	// ran to completion but cannot be stored.
	ErrPayloadTooLarge = errors.New("idempotency: payload too large for the store")
	// ErrNoClaim is returned by DeclareEffects and DerivedKey when the
	// context does not come from a handler running under an idempotency
	// claim, or the claim has ended.
	ErrNoClaim = errors.New("idempotency: no idempotency claim in this context")

	// ErrNotCommitted is returned by Engine.Do when fn's transaction (see
	// TxStore) did not commit, or its outcome is unknown: nothing of it
	// may have been saved, and its result must not be used. Calling Do
	// again with the same key runs fn again or returns its result.
	ErrNotCommitted = errors.New("idempotency: the operation's transaction did not commit")

	// ErrResponseStarted is returned by HoldResponse when the handler has
	// already sent part of its response, which can then no longer wait
	// for a transaction to commit.
	ErrResponseStarted = errors.New("idempotency: the response has already started")

	// ErrResponseHeld is returned by an adapter's Hijack while the
	// response is held for a transaction (HoldResponse).
	ErrResponseHeld = errors.New("idempotency: the response is held until the transaction commits")

	// ErrHoldUnsupported is returned by HoldResponse when the adapter
	// serving the request cannot hold a response back (a custom Exchange
	// that does not bind its capture: see BodyCapture.Start), or when the
	// Engine's store is not a TxStore.
	ErrHoldUnsupported = errors.New("idempotency: this adapter cannot hold a response back")
	// ErrNoDerivedKeySecret is returned by DerivedKey when the Engine has
	// no secret to derive keys with (WithDerivedKeySecret).
	ErrNoDerivedKeySecret = errors.New("idempotency: no derived-key secret configured")
	// ErrSeveralKeys is returned by key extraction for a request that
	// carries more than one key (repeated headers or a list): 400.
	ErrSeveralKeys = errors.New("idempotency: several idempotency keys")
	// ErrMalformedKey is wrapped by the error for a key header that cannot
	// be read (empty, a broken sf-string), and by Do for a key that fails
	// validation.
	ErrMalformedKey = errors.New("idempotency: malformed idempotency key")
	// ErrRecordRejected is wrapped (with ErrCorruptRecord) by the error for
	// a record that fails signature verification or decryption: it was not
	// written by an Engine holding one of the ring's keys for this key,
	// state and fingerprint. Such a record is never replayed and never
	// treated as absent.
	ErrRecordRejected = errors.New("idempotency: record signature or encryption does not verify")
	// ErrForeignRequest is returned by a framework-typed scope getter or
	// key getter (Hooks) that received another framework's request, and
	// reported for a typed user getter in the user scopes: an option of
	// one adapter was given to another adapter's middleware (500).
	ErrForeignRequest = errors.New("idempotency: a framework-typed option was given to another framework's middleware")
)
