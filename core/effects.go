package core

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ClaimContextKey is the context key under which a handler running under
// an idempotency claim finds it (DeclareEffects, DerivedKey). Adapters
// store the claim under it in their framework's own context too (gin's
// c.Set, fiber's c.Locals), so that *gin.Context and fiber's c.Context()
// work as well as the request's context. It is a string, namespaced by
// the module path, because those frameworks only look string keys up.
const ClaimContextKey = "github.com/idemkit/idempotency/core.claim"

// effects records whether the handler of a claim declared irreversible
// effects. The mutex orders DeclareEffects (which may run on any of the
// handler's goroutines) with the end of the claim: once ended, the
// Engine's decision (release, or keep as uncertain) is taken and a late
// declaration is refused rather than silently lost.
type effects struct {
	mu        sync.Mutex
	committed bool
	ended     bool
}

// end closes the claim to declarations and reports whether effects were
// declared. A DeclareEffects still talking to the store finishes first.
func (fx *effects) end() (committed bool) {
	fx.mu.Lock()
	fx.ended = true
	committed = fx.committed
	fx.mu.Unlock()
	return committed
}

// A request is the context its handler runs with (Exchange.Next): it
// answers ClaimContextKey with itself and delegates everything else to the
// request's own context, which costs no allocation.
func (r *request) Deadline() (time.Time, bool) { return r.ctx.Deadline() }
func (r *request) Done() <-chan struct{}       { return r.ctx.Done() }
func (r *request) Err() error                  { return r.ctx.Err() }
func (r *request) Value(key any) any {
	if key == ClaimContextKey {
		return r
	}
	return r.ctx.Value(key)
}

// withoutClaim hides any claim of its parent, for a function that runs
// without one of its own (Do failing open).
type withoutClaim struct{ context.Context }

func (w withoutClaim) Value(key any) any {
	if key == ClaimContextKey {
		return nil
	}
	return w.Context.Value(key)
}

func claimOf(ctx context.Context) (*request, bool) {
	if ctx == nil {
		return nil, false
	}
	r, ok := ctx.Value(ClaimContextKey).(*request)
	return r, ok && r.e != nil
}

// DeclareEffects tells the Engine that the handler running with ctx is
// about to start irreversible effects (charge a card, ship an order, call
// a provider): from now on a failure must not let a retry run it again.
// It marks the claim as committed in the store (one round trip, fenced by
// the claim's token; calling it again is free). After it returns nil:
//
//   - a 5xx, a handler error, a panic, a lost lease or a dead owner no
//     longer releases the key: it becomes uncertain, retries get 423
//     operation-uncertain and OPERATION_UNCERTAIN fires, until an operator
//     resolves it (Engine.Resolve, idemctl resolve) or its TTL ends;
//   - a response that cannot be stored leaves a tombstone even under
//     WithReleaseUnstored.
//
// Call it as late as possible, just before the first irreversible step:
// everything before it still fails cleanly (released, retried fresh).
//
// When it returns an error, do not start the effects; fail the request
// instead (the claim is released and the client retries):
//
//   - ErrNoClaim: ctx is not a handler's context under a claim (no key on
//     an optional route, a fail-open bypass, no middleware): nothing
//     protects the request, so decide whether to go on unprotected. The
//     same error for a context whose handler already returned (a
//     goroutine that outlived it) means never go on: the claim has
//     ended, and may have been released for a retry to run.
//   - ErrLeaseLost: the claim's lease was lost; another request may own
//     the key now. Never go on.
//   - ErrStoreUnavailable: the mark could not be stored. Never go on.
func DeclareEffects(ctx context.Context) error {
	r, ok := claimOf(ctx)
	if !ok {
		return ErrNoClaim
	}
	return r.e.declareEffects(r)
}

func (e *Engine) declareEffects(r *request) error {
	fx := &r.fx
	fx.mu.Lock()
	defer fx.mu.Unlock()
	switch {
	case fx.ended:
		return fmt.Errorf("%w: the handler has already returned", ErrNoClaim)
	case fx.committed:
		return nil
	}
	var sig []byte
	if e.ring != nil {
		sig = e.ring.commitSig(r.storeKey, &r.fpv)
	}
	ctx, cancel := e.storeContext(r.ctx)
	err := e.cfg.store.Commit(ctx, r.storeKey, r.claim.token, sig)
	cancel()
	switch {
	case err == nil:
		fx.committed = true
		return nil
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "effects declared after the claim was lost: refused"})
		return err
	case errors.Is(err, ErrStoreUnavailable):
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "effects could not be declared: the handler must not start them"})
		return err
	default:
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "effects could not be declared: the handler must not start them"})
		return fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
}

// DerivedKey returns a stable idempotency key for a downstream call made
// by the handler running with ctx: the payment provider's own
// Idempotency-Key, say. It is an HMAC-SHA256, under the Engine's secret
// (WithDerivedKeySecret), of the request's scope, its idempotency key and
// name, shaped as a UUID (version 8, RFC 9562), which providers accept:
//
//   - identical on every run of the same operation, on any instance: even
//     an operation that was released and run again (a 5xx before
//     DeclareEffects, a crash before it) is deduplicated by the provider;
//   - different for every name, so one operation can make several calls;
//   - unguessable without the secret, and different in every scope, so
//     that no client can aim a key at another user's downstream calls.
//
// It returns ErrNoClaim when ctx is not a handler's context under a claim
// and ErrNoDerivedKeySecret when the Engine has no secret.
func DerivedKey(ctx context.Context, name string) (string, error) {
	r, ok := claimOf(ctx)
	if !ok {
		return "", ErrNoClaim
	}
	secret := r.e.cfg.derivedSecret
	if secret == nil {
		return "", ErrNoDerivedKeySecret
	}
	return deriveKey(secret, r.scope, r.key, name), nil
}

// deriveKey is DerivedKey's function. Each input is length-prefixed, so
// that no two (scope, key, name) triples hash the same bytes.
func deriveKey(secret []byte, scope, key, name string) string {
	m := hmac.New(sha256.New, secret)
	var n [8]byte
	m.Write([]byte("idemkit derived key v1"))
	for _, s := range [...]string{scope, key, name} {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		m.Write(n[:])
		m.Write([]byte(s))
	}
	var sum [sha256.Size]byte
	u := m.Sum(sum[:0])[:16]
	u[6] = u[6]&0x0f | 0x80 // version 8: custom
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:16])
	return string(out[:])
}
