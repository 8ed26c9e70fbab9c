// Package core is the framework-agnostic engine of idemkit: it makes
// mutating requests safe to retry by running each (scope, Idempotency-Key)
// once and replaying the stored response to every retry.
//
// Framework adapters (idemgin, idemecho, idemfiber, idemhttp) present
// each request as an Exchange and call Engine.Serve; queue and webhook
// consumers call Engine.Do. Everything the engine decides with is an
// interface and can be replaced by an Option. Extension points receive a
// read-only Request, never the Exchange, so they can read the request
// but not run the handler or write a response; each adapter also offers
// typed hooks over its own context (WithSkipper, WithUserGetter,
// WithScopeGetter, WithKeyGetter):
//
//	KeyExtractor        where the key comes from        (HeaderKey("Idempotency-Key"))
//	KeyValidator        which keys are accepted          (UUID, ULID, Token, Regex)
//	ScopeResolver       which requests share keys        (ScopeUserRoute, ...)
//	PayloadHasher       what "the same request" means    (CanonicalHasher, SHA-256)
//	ResponseSerializer  how responses are stored         (BinarySerializer)
//	Store               where records live               (storage/memory, storage/redis)
//	TelemetryDriver     events and measurements          (telemetry, idemotel, idemprom)
//	ErrorResponder      how refusals are written         (RFC 9457 problem+json)
//
// Telemetry gets one Measurement per request, with its Outcome (the same
// type Store.Begin answers with), and the events of the catalogue
// (EventType); alert handlers get events through a cooldown shared by the
// store, so N instances alert once.
//
// A request goes through the steps of the behaviour contract: skip,
// extract and validate the key, resolve the scope, fingerprint, then one
// atomic Store.Begin that claims the key, replays a completed record,
// refuses a different payload (422) or waits for an in-flight original
// (then 409). The handler runs under a lease renewed in the background;
// one atomic, fencing-checked Store.Complete stores a cacheable response.
// A response that ran but cannot be stored (streamed, too large) leaves a
// tombstone, so a retry is refused (410) instead of running again; a
// failure (5xx, error, panic) releases the claim so a retry runs fresh,
// unless the handler declared irreversible effects first
// (DeclareEffects): then the key becomes uncertain (423) until an
// operator resolves it (Engine.Resolve). DerivedKey gives the handler a
// stable key for its own downstream calls.
//
// Options are validated at construction (New returns an error wrapping
// ErrInvalidOption); Tag parses the common ones from one string for
// per-route use. The admin API (Inspect, Flush, Resolve) works on one key
// of one scope. Records can be signed and encrypted (WithRecordKeys,
// WithRecordEncryption). Package coretest holds the conformance suites
// that every Store and every adapter runs; ARCHITECTURE.md at the
// repository root maps each step of the behaviour contract to the code
// that implements it.
package core
