package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Engine runs the idempotency protocol. It is framework-agnostic: adapters
// hand it an Exchange per request (Serve), and queue or webhook consumers
// call Do. An Engine is safe for concurrent use.
type Engine struct {
	cfg          config
	scopeName    string
	measure      bool // false with the null driver: skip building measurements
	claimTTL     time.Duration
	warnedGlobal atomic.Bool
	dups         dupCounter
	alerts       alerter
	renew        renewer
	bg           background
	// deadline is false for stores whose calls never block (NonBlocking):
	// a per-call deadline would only cost an allocation there.
	deadline bool
	// ring signs and verifies records (WithRecordKeys), or is nil.
	ring *keyRing
}

// New builds an Engine. It returns an error wrapping ErrInvalidOption when
// an option is invalid or no store is configured.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{cfg: defaultConfig()}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.apply(&e.cfg); err != nil {
			return nil, err
		}
	}
	c := &e.cfg
	if c.store == nil {
		return nil, invalid("no store: pass core.WithStore (the framework adapters default to the in-memory store)")
	}
	if c.extractor == nil {
		c.extractor = HeaderKey(DefaultHeaderName)
	}
	if c.validator == nil {
		c.validator = UUID()
	}
	if c.hasher == nil {
		h, err := NewCanonicalHasher(c.hashOpts...)
		if err != nil {
			return nil, err
		}
		c.hasher = h
	} else if len(c.hashOpts) > 0 {
		return nil, invalid("hasher options (hash algorithm, ignored fields, multipart limits, files) configure the default hasher; pass them to NewCanonicalHasher for your own PayloadHasher instead")
	}
	if c.serializer == nil {
		c.serializer = BinarySerializer{}
	}
	if c.responder == nil {
		c.responder = ProblemResponder{}
	}
	if c.telemetry == nil {
		c.telemetry = nullTelemetry{}
	} else {
		_, isNull := c.telemetry.(nullTelemetry)
		e.measure = !isNull
	}
	c.renewEvery = c.lease / 3
	// An in-flight record must outlive its lease, whatever the TTL of
	// completed records.
	e.claimTTL = max(c.ttl, 2*c.lease)
	e.scopeName = string(c.scope)
	if c.scopeResolver != nil {
		e.scopeName = "custom"
	}
	if len(c.recordKeys) > 0 {
		ring, err := newKeyRing(c.recordKeys)
		if err != nil {
			return nil, err
		}
		ring.encrypt = c.encrypt
		e.ring = ring
	} else if c.encrypt {
		return nil, invalid("record encryption needs record keys (WithRecordKeys)")
	}
	_, nonBlocking := c.store.(NonBlocking)
	e.deadline = c.storeTimeout > 0 && !nonBlocking
	e.bg.init()
	e.alerts.init(c, &e.bg)
	return e, nil
}

// Must returns e, or panics with err. It suits program start-up:
// idemgin.New uses it so that r.Use(idemgin.New(...)) reads naturally.
func Must(e *Engine, err error) *Engine {
	if err != nil {
		panic(err)
	}
	return e
}

// Store returns the Engine's store.
func (e *Engine) Store() Store { return e.cfg.store }

// request is what the Engine knows about one request once it is keyed.
type request struct {
	e        *Engine
	ex       Exchange
	ctx      context.Context
	method   string
	route    string
	key      string
	scope    string
	storeKey string
	lockWait time.Duration
	begunAt  time.Time // when the Begin that claimed the key was sent
	// fp and claim live here because a request is allocated anyway:
	// as separate values they would each escape to the heap.
	fp    FingerprintInput
	fpv   Fingerprint // the request's fingerprint, which seals bind to
	claim claim
	fx    effects
	resp  Response
}

// Serve handles one request through the whole protocol and returns the
// handler's error, if any, for the adapter to hand back to its framework.
// Panics in the handler release the claim and keep propagating.
func (e *Engine) Serve(ex Exchange) error {
	c := &e.cfg
	if !ex.Enter() {
		return ex.Pass() // an outer idempotency middleware already handles it
	}
	method := ex.Method()
	if !c.hasMethod(method) || (c.skip != nil && c.skip(ex)) {
		return ex.Pass()
	}
	r := &request{e: e, ex: ex, ctx: ex.Context(), method: method, route: ex.Route()}
	if r.route == "" {
		// The framework matched no route: its own 404 (or 405) answers,
		// untouched, and nothing is recorded, so that random paths can
		// neither claim keys nor create telemetry series.
		return ex.Pass()
	}

	key, found, err := c.extractor.ExtractKey(ex)
	if err == nil && !found {
		if c.optional {
			e.record(r, OutcomeBypass, 0, 0, 0, false)
			return ex.Pass()
		}
		e.emit(r, &Event{Type: EventMissingKey, Status: 400})
		return e.refuse(r, OutcomeMissing, newProblem(ProblemMissingKey, 400,
			"this endpoint requires an "+e.keyName()+" header"))
	}
	if err == nil {
		key, err = e.validateKey(key)
	}
	if err != nil {
		r.key = key
		e.emit(r, &Event{Type: EventInvalidKeyFormat, Status: 400, Detail: err.Error()})
		return e.refuse(r, OutcomeInvalid, newProblem(ProblemInvalidKey, 400, strings.TrimPrefix(err.Error(), "idempotency: ")))
	}
	r.key = key

	if err = e.resolveScope(r); err != nil {
		// A custom resolver failed: the server's fault, never the client's.
		return e.refuse(r, OutcomeStoreError, newProblem(ProblemScope, 500, "could not resolve the idempotency scope"))
	}

	var fp Fingerprint
	if c.checkPayload {
		body, err := ex.Body(c.maxBodyBytes)
		if errors.Is(err, ErrBodyTooLarge) {
			return e.refuse(r, OutcomeInvalid, newProblem(ProblemBodyTooLarge, 413,
				fmt.Sprintf("request bodies on this endpoint are limited to %d bytes", c.maxBodyBytes)))
		}
		if err != nil {
			return e.refuse(r, OutcomeInvalid, newProblem(ProblemUnreadableBody, 400, "the request body could not be read"))
		}
		r.fp = FingerprintInput{Method: method, Path: ex.Path(), RawQuery: ex.RawQuery(), Body: body}
		if cts := ex.Header("Content-Type"); len(cts) > 0 {
			r.fp.ContentType = cts[0]
		}
		fp, err = c.hasher.Fingerprint(&r.fp)
		r.fp.Body = nil // not kept past hashing
		if errors.Is(err, ErrMultipartLimit) {
			return e.refuse(r, OutcomeInvalid, newProblem(ProblemBodyTooLarge, 413, strings.TrimPrefix(err.Error(), "idempotency: ")))
		}
		if err != nil {
			return e.refuse(r, OutcomeInvalid, newProblem(ProblemUnreadableBody, 400, "the request body could not be fingerprinted"))
		}
	}

	res, err := e.beginWait(r, fp)
	if err != nil {
		return e.storeFailed(r, err)
	}
	switch res.Outcome {
	case Claimed:
		return e.runOriginal(r, res.Token)
	case Replay:
		return e.replay(r, &res.Record)
	case Unavailable:
		return e.refuse(r, OutcomeUnavailable, newProblem(ProblemResultUnavailable, http.StatusGone,
			"a request with this idempotency key already ran to completion, but its response could not be kept; it will not run again with this key"))
	case Uncertain:
		return e.refuse(r, OutcomeUncertain, newProblem(ProblemOperationUncertain, http.StatusLocked,
			"a request with this idempotency key may have taken effect but did not finish; it will not run again with this key until the operation has been checked"))
	case Mismatch:
		e.emit(r, &Event{Type: EventPayloadMismatch, Status: 422})
		return e.refuse(r, OutcomeMismatch, newProblem(ProblemPayloadMismatch, 422,
			"this idempotency key was already used with a different request; use a new key for a new request"))
	default: // InFlight after the lock wait
		p := newProblem(ProblemInFlight, 409, "a request with this idempotency key is still being processed; retry later")
		p.RetryAfter = retryAfter(res.Record.LeaseUntil)
		e.emit(r, &Event{Type: EventConcurrentConflict, Status: 409, Elapsed: r.lockWait})
		return e.refuse(r, OutcomeConflict, p)
	}
}

// validateKey checks key's length and format and returns the key to use:
// the validator's canonical form, so that case-insensitive formats (UUID,
// ULID) name one key however they are spelled.
func (e *Engine) validateKey(key string) (string, error) {
	c := &e.cfg
	if len(key) > c.maxKeyLength {
		return key, fmt.Errorf("key is longer than %d characters", c.maxKeyLength)
	}
	canon, err := c.validator.ValidateKey(key)
	if err != nil {
		return key, err
	}
	if canon == "" {
		return key, nil
	}
	return canon, nil
}

func (e *Engine) keyName() string {
	if h, ok := e.cfg.extractor.(HeaderKey); ok {
		return string(h)
	}
	return "idempotency key"
}

func retryAfter(leaseUntil time.Time) int {
	secs := int(time.Until(leaseUntil).Seconds() + 0.999)
	if secs < 1 {
		return 1
	}
	if secs > 60 {
		return 60
	}
	return secs
}

func (e *Engine) refuse(r *request, o RequestOutcome, p *Problem) error {
	e.cfg.responder.RespondError(r.ex, p)
	e.record(r, o, p.Status, 0, 0, false)
	return nil
}

// resolveScope sets r.scope and r.storeKey. Built-in scopes build both in
// one string: the scope is a slice of the store key.
func (e *Engine) resolveScope(r *request) error {
	c := &e.cfg
	if c.scopeResolver != nil {
		scope, err := c.scopeResolver.ResolveScope(r.ex)
		if err != nil {
			return err
		}
		r.scope, r.storeKey = scope, scopedKey(scope, r.key)
		return nil
	}
	var user, ip string
	switch c.scope {
	case ScopeUser, ScopeUserRoute:
		if c.userResolver != nil {
			user = c.userResolver(r.ex)
		}
	case ScopeGlobal:
		if c.userResolver != nil && !e.warnedGlobal.Load() && c.userResolver(r.ex) != "" && e.warnedGlobal.CompareAndSwap(false, true) {
			e.emit(r, &Event{Type: EventGlobalScopeUser,
				Detail: "the global scope shares keys between users; consider scope user or user_route"})
		}
	case ScopeIP:
		ip = r.ex.ClientIP()
	}
	r.storeKey, r.scope = builtinStoreKey(c.scope, user, r.method, r.route, ip, r.key)
	return nil
}

// beginWait claims the key or, while another request holds it with the
// same fingerprint, polls for up to the lock wait. Polling through Begin
// means a waiter also takes over a claim whose owner died or released it.
func (e *Engine) beginWait(r *request, fp Fingerprint) (BeginResult, error) {
	c := &e.cfg
	a := Attempt{Fingerprint: fp, Nonce: rand.Uint64() | 1, Lease: c.lease, TTL: e.claimTTL}
	r.fpv = fp
	if e.ring != nil {
		a.Sig = e.ring.claimSig(r.storeKey, &r.fpv)
	}
	res, err := e.begin(r, a)
	if err != nil || res.Outcome != InFlight || c.lockWait <= 0 {
		return res, err
	}
	start := time.Now()
	deadline := start.Add(c.lockWait)
	delay := 2 * time.Millisecond
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		d := delay/2 + rand.N(delay/2+1) // jitter spreads a herd of waiters
		if d > left {
			d = left
		}
		timer.Reset(d)
		select {
		case <-r.ctx.Done():
			r.lockWait = time.Since(start)
			return res, nil // the client left; it gets the conflict it will not read
		case <-timer.C:
		}
		res, err = e.begin(r, a)
		if err != nil || res.Outcome != InFlight {
			break
		}
		if delay < 50*time.Millisecond {
			delay = delay * 3 / 2
		}
	}
	r.lockWait = time.Since(start)
	return res, err
}

// begin sends one Begin under the store deadline and reports records the
// store evicted early to make room for it.
func (e *Engine) begin(r *request, a Attempt) (BeginResult, error) {
	ctx, cancel := e.storeContext(r.ctx)
	r.begunAt = time.Now()
	res, err := e.cfg.store.Begin(ctx, r.storeKey, a)
	cancel()
	if err == nil && e.ring != nil && res.Outcome != Claimed {
		if err = e.verifyRecord(r.storeKey, &res.Record); err != nil {
			return BeginResult{}, err
		}
	}
	if err == nil && res.Stranded {
		e.emit(r, &Event{Type: EventOperationUncertain,
			Detail: "the owner of a claim that declared effects died or lost its lease: the key is uncertain until resolved"})
	}
	if err == nil && res.Evicted > 0 {
		e.emit(r, &Event{Type: EventRecordEvicted, Hits: res.Evicted,
			Detail: "the store evicted completed records before their TTL to make room: a retry of those keys would run again; raise the store's bounds or rate-limit clients"})
	}
	return res, err
}

func (e *Engine) storeFailed(r *request, err error) error {
	if errors.Is(err, ErrCorruptRecord) {
		// An integrity failure is not an outage: the record exists but
		// cannot be trusted. Treating it as absent would run the handler
		// again, so it fails closed even when failing open.
		e.emit(r, &Event{Type: EventRecordRejected, Err: err, Detail: "stored record rejected (bad signature, unknown format or undecodable): request refused with 503"})
		p := newProblem(ProblemStoreUnavailable, 503, "idempotency could not be guaranteed right now; retry the request with the same key")
		p.RetryAfter = 1
		return e.refuse(r, OutcomeStoreError, p)
	}
	e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: storeFailDetail(e.cfg.failOpen)})
	if e.cfg.failOpen {
		e.record(r, OutcomeBypass, 0, 0, 0, false)
		return r.ex.Pass()
	}
	p := newProblem(ProblemStoreUnavailable, 503, "idempotency could not be guaranteed right now; retry the request with the same key")
	p.RetryAfter = 1
	return e.refuse(r, OutcomeStoreError, p)
}

func storeFailDetail(open bool) string {
	if open {
		return "store unavailable: request let through without idempotency (fail open)"
	}
	return "store unavailable: request refused with 503 (fail closed)"
}

func (e *Engine) replay(r *request, rec *Record) error {
	resp, err := e.cfg.serializer.Decode(rec.Payload)
	if err != nil {
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "stored response could not be decoded"})
		return e.refuse(r, OutcomeStoreError, newProblem(ProblemCorruptRecord, 500, "the stored response for this key could not be read"))
	}
	h := resp.Header
	if h == nil {
		h = make(map[string][]string, 2)
	} else {
		e.cfg.headers.filterReplay(h)
	}
	h["Idempotency-Status"] = statusRepeated
	if e.cfg.replayedHeader {
		h["Idempotent-Replayed"] = valueTrue
	}
	r.ex.Reply(resp.Status, h, resp.Body)
	e.countDuplicate(r, resp.Status)
	e.record(r, OutcomeRepeated, resp.Status, 0, len(resp.Body), false)
	return nil
}

// countDuplicate counts a replay of r's key and fires RESPONSE_DUPLICATE
// when the count reaches the threshold, then at each doubling of it.
func (e *Engine) countDuplicate(r *request, status int) {
	if hits := e.dups.hit(r.storeKey); hits >= e.cfg.duplicateHits && isPow2(hits/e.cfg.duplicateHits) && hits%e.cfg.duplicateHits == 0 {
		e.emit(r, &Event{Type: EventResponseDuplicate, Status: status, Hits: hits})
	}
}

func isPow2(n int) bool { return n > 0 && n&(n-1) == 0 }

var (
	statusOriginal = []string{"Original"}
	statusRepeated = []string{"Repeated"}
	valueTrue      = []string{"true"}
)

// runOriginal runs the handler under the claim, then ends the claim: it
// stores the response, releases the key, or, when a retry must not run
// the handler again but there is nothing to replay, leaves a tombstone or
// an uncertain record.
func (e *Engine) runOriginal(r *request, token uint64) error {
	c := &e.cfg
	r.ex.SetHeader("Idempotency-Status", statusOriginal)
	var capd Captured
	elapsed, lease, herr := e.underClaim(r, token, func() (err error) {
		capd, err = r.ex.Next(r, c.maxResponseBytes)
		return err
	})
	if herr != nil {
		e.record(r, OutcomeOriginal, 0, elapsed, 0, false)
		return herr
	}
	status := capd.Status
	if status == 0 {
		status = 200
	}
	if !capd.Streamed && isEventStream(capd.Header) {
		capd.Streamed = true // delivered as it went, even without a flush
	}
	committed := lease.committed
	stored := false
	switch {
	case lease.lost && !committed:
		// The lease was lost while the handler ran (already reported):
		// another request may own the key now; do not touch it. A
		// committed claim cannot have been taken over: its record is
		// still this token's (uncertain at worst), so it is ended below.
	case status >= 500 || !c.cacheable(status):
		// A failure, streamed or not: released (or uncertain after
		// declared effects), never a tombstone, which would tell retries
		// that the operation ran to completion and lock the key out.
		e.endFailed(r, token, lease.until, status, committed, "")
	case capd.Streamed:
		e.endUnstored(r, token, lease.until, status, committed, "response streamed")
	case capd.Oversize:
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: c.maxResponseBytes,
			Detail: "response larger than the max response size: delivered, not stored"})
		e.endUnstored(r, token, lease.until, status, committed, fmt.Sprintf("response larger than %d bytes", c.maxResponseBytes))
	default:
		stored = e.complete(r, token, lease, status, &capd)
	}
	e.record(r, OutcomeOriginal, status, elapsed, len(capd.Body), stored)
	return nil
}

// endUnstored ends a claim whose response ran to completion but cannot be
// stored: a tombstone, so that a retry is refused instead of running the
// handler again, or, under WithReleaseUnstored and without declared
// effects, a release.
func (e *Engine) endUnstored(r *request, token uint64, leaseUntil time.Time, status int, committed bool, why string) {
	if e.cfg.releaseUnstored && !committed {
		e.release(r, token)
		return
	}
	e.emit(r, &Event{Type: EventResultUnavailable, Status: status,
		Detail: why + ": not stored; a tombstone answers retries with result-unavailable"})
	e.settle(r, token, leaseUntil, status, StateTombstone, []byte(why+" (status "+strconv.Itoa(status)+"); not stored"))
}

// endFailed ends a claim whose handler failed: a non-cacheable status
// (why ""), or an error or a panic (why says which). It is released so
// that a retry runs fresh, unless the handler declared effects: then
// nobody knows whether they happened, and the key becomes uncertain until
// an operator resolves it.
func (e *Engine) endFailed(r *request, token uint64, leaseUntil time.Time, status int, committed bool, why string) {
	if !committed {
		e.release(r, token)
		return
	}
	if why == "" { // built here: a release, the common case, needs no text
		why = "handler answered " + strconv.Itoa(status)
	}
	e.emit(r, &Event{Type: EventOperationUncertain, Status: status,
		Detail: why + " after declaring effects: the key is uncertain until resolved"})
	e.settle(r, token, leaseUntil, status, StateUncertain, []byte(why+" after declaring effects"))
}

// settle writes a final record that is not a response (a tombstone or an
// uncertain record), with the same fencing and background retry as a
// completion: a lost settle would let the claim expire, and an expired
// uncommitted claim is taken over, which is the re-run it exists to stop.
func (e *Engine) settle(r *request, token uint64, leaseUntil time.Time, status int, state State, reason []byte) {
	c := &e.cfg
	reason = e.sealed(r, state, reason)
	ctx, cancel := e.storeContext(detached(r.ctx))
	err := c.store.Complete(ctx, r.storeKey, token, state, reason, c.ttl)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
			Detail: "fencing rejected the " + state.String() + " record: the lease was lost while the handler ran"})
	default:
		e.completeLater(r, token, leaseUntil, status, state, reason, err)
	}
}

// leaseState is what was known of a claim when its handler ended.
type leaseState struct {
	lost      bool      // lost while the handler ran (already reported)
	until     time.Time // held at least until then, unless lost
	committed bool      // the handler declared effects (DeclareEffects)
}

// underClaim runs fn while the claim's lease is renewed. When fn returns
// an error or panics, the claim ends as endFailed says (released, or
// uncertain after declared effects), EXCEPTION_THROWN fires, and a panic
// keeps propagating (to the framework's recovery).
func (e *Engine) underClaim(r *request, token uint64, fn func() error) (elapsed time.Duration, lease leaseState, err error) {
	e.startRenewal(r, token)
	start := time.Now()
	finished := false
	defer func() {
		if finished {
			return
		}
		lost, until := e.stopRenewal(r)
		committed := r.fx.end()
		e.emit(r, &Event{Type: EventExceptionThrown, Status: 500, Elapsed: time.Since(start), Detail: "handler panicked"})
		if !lost || committed {
			e.endFailed(r, token, until, 500, committed, "handler panicked")
		}
		e.record(r, OutcomeOriginal, 500, time.Since(start), 0, false)
	}()
	err = fn()
	finished = true
	lease.lost, lease.until = e.stopRenewal(r)
	lease.committed = r.fx.end()
	elapsed = time.Since(start)
	if err != nil {
		e.emit(r, &Event{Type: EventExceptionThrown, Elapsed: elapsed, Err: err, Detail: "handler returned an error"})
		if !lease.lost || lease.committed {
			e.endFailed(r, token, lease.until, 500, lease.committed, "handler returned an error")
		}
	}
	return elapsed, lease, err
}

// complete stores the response under the claim. When the store fails,
// the completion goes on in the background until the lease would end
// (completeLater): a response that ran but was not stored would run again
// on a retry once the lease expires, so a short outage should end in a
// replay instead. A store that can never hold the response
// (ErrPayloadTooLarge) gets a tombstone instead.
func (e *Engine) complete(r *request, token uint64, lease leaseState, status int, capd *Captured) bool {
	c := &e.cfg
	buf := make([]byte, 0, len(capd.Body)+256)
	var payload []byte
	var err error
	if _, ok := c.serializer.(BinarySerializer); ok {
		payload = encodeBinary(buf, status, capd.Header, &c.headers, capd.Outer, capd.Body)
	} else {
		r.resp = Response{Status: status, Header: c.headers.storedHeaders(capd.Header, capd.Outer), Body: capd.Body}
		payload, err = c.serializer.Encode(buf, &r.resp)
		r.resp = Response{}
	}
	if err != nil {
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "response could not be encoded"})
		e.endUnstored(r, token, lease.until, status, lease.committed, "response could not be encoded")
		return false
	}
	if c.sizeWarning > 0 && len(capd.Body) > c.sizeWarning {
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: len(capd.Body), Detail: "large response stored"})
	}
	payload = e.sealed(r, StateCompleted, payload)
	ctx, cancel := e.storeContext(detached(r.ctx))
	err = c.store.Complete(ctx, r.storeKey, token, StateCompleted, payload, c.ttl)
	cancel()
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Status: status, Err: err,
			Detail: "fencing rejected the completion: the lease was lost while the handler ran"})
		return false
	case errors.Is(err, ErrPayloadTooLarge):
		e.emit(r, &Event{Type: EventSizeWarning, Status: status, Size: len(payload), Err: err,
			Detail: "response too large for the store: delivered, not stored"})
		e.endUnstored(r, token, lease.until, status, lease.committed, "response too large for the store")
		return false
	}
	e.completeLater(r, token, lease.until, status, StateCompleted, payload, err)
	return false
}

// detached returns a context for finishing a request's store work: the
// request's own while it is live (no allocation), or one that ignores its
// cancellation once the client has gone, since a claim must still be
// completed or released.
func detached(ctx context.Context) context.Context {
	if ctx.Err() == nil {
		return ctx
	}
	return context.WithoutCancel(ctx)
}

func (e *Engine) release(r *request, token uint64) {
	ctx, cancel := e.storeContext(detached(r.ctx))
	err := e.cfg.store.Release(ctx, r.storeKey, token)
	cancel()
	switch {
	case err == nil:
	case errors.Is(err, ErrLeaseLost):
		e.emit(r, &Event{Type: EventLockInconsistency, Err: err, Detail: "claim was lost before release"})
	default:
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: "claim not released: it frees itself when its lease expires"})
	}
}

func (e *Engine) record(r *request, o RequestOutcome, status int, handler time.Duration, size int, stored bool) {
	if !e.measure {
		return
	}
	e.cfg.telemetry.Measure(r.ctx, &Measurement{
		Outcome: o, Method: r.method, Route: r.route, Status: status,
		LockWait: r.lockWait, HandlerTime: handler, ResponseSize: size, Stored: stored,
	})
}
