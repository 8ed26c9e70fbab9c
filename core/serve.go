package core

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Serve handles one request through the whole protocol and returns the
// handler's error, if any, for the adapter to hand back to its framework.
// Panics in the handler release the claim and keep propagating.
func (e *Engine) Serve(ex Exchange) error {
	c := &e.cfg
	// Step 1, skip: a method outside Methods, a Skip func, no matched
	// route, or a request an outer idemkit middleware already handles
	// passes through untouched. Enter comes last, so that a request the
	// outer middleware skipped is still handled by an inner one (a global
	// middleware that skips webhooks, a route one that keys them).
	req := ex.Request()
	method := req.Method()
	if !c.hasMethod(method) || (c.skip != nil && c.skip(req)) {
		return ex.Pass()
	}
	var route string
	if c.route != nil {
		route = c.route(req)
	} else {
		route = req.Route()
	}
	if route == "" {
		// The framework matched no route: its own 404 (or 405) answers,
		// untouched, and nothing is recorded, so that random paths can
		// neither claim keys nor create telemetry series.
		return ex.Pass()
	}
	if !ex.Enter() {
		return ex.Pass() // an outer idempotency middleware handles it
	}
	r := &request{e: e, ex: ex, req: req, ctx: req.Context()}
	r.m.Method, r.m.Route = method, route
	if e.measure {
		defer e.finish(r) // also when the handler panics
	}
	return e.serve(r)
}

// serve runs steps 2 to 9 of the protocol for a routed request.
func (e *Engine) serve(r *request) error {
	c := &e.cfg
	ex, req := r.ex, r.req
	// Steps 2 and 3, key: extracted, or missing.
	key, found, err := c.extractor.ExtractKey(req)
	if err == nil && !found {
		if c.optional {
			r.answered(OutcomeBypass, 0)
			return ex.Pass()
		}
		e.emit(r, &Event{Type: EventMissingKey, Status: 400})
		return e.refuse(r, OutcomeMissing, newProblem(ProblemMissingKey, 400,
			"this endpoint requires an "+e.keyName()+" header"))
	}
	if errors.Is(err, ErrForeignRequest) {
		return e.misconfigured(r)
	}
	// Step 4, validation: the key is checked and canonicalised.
	if err == nil {
		key, err = e.validateKey(key)
	}
	if err != nil {
		r.key = key
		e.emit(r, &Event{Type: EventInvalidKeyFormat, Status: 400, Detail: err.Error()})
		return e.refuse(r, OutcomeInvalid, newProblem(ProblemInvalidKey, 400, strings.TrimPrefix(err.Error(), "idempotency: ")))
	}
	r.key = key

	// Step 5, scope.
	if err = e.resolveScope(r); err != nil {
		if errors.Is(err, ErrForeignRequest) {
			return e.misconfigured(r)
		}
		// A custom resolver failed: the server's fault, never the client's.
		return e.refuse(r, OutcomeStoreError, newProblem(ProblemScope, 500, "could not resolve the idempotency scope"))
	}

	// Step 6, fingerprint.
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
		r.fp = FingerprintInput{Method: r.m.Method, Path: req.Path(), RawQuery: req.RawQuery(), Body: body}
		if cts := req.Header("Content-Type"); len(cts) > 0 {
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

	// Step 7, begin; step 11 when the store fails.
	res, err := e.beginWait(r, fp)
	if err != nil {
		return e.storeFailed(r, err)
	}
	switch res.Outcome {
	case OutcomeOriginal: // steps 8 to 10
		return e.runOriginal(r, res.Token)
	case OutcomeRepeated:
		return e.replay(r, &res.Record)
	case OutcomeUnavailable:
		return e.refuse(r, OutcomeUnavailable, newProblem(ProblemResultUnavailable, http.StatusGone,
			"a request with this idempotency key already ran to completion, but its response could not be kept; it will not run again with this key"))
	case OutcomeUncertain:
		return e.refuse(r, OutcomeUncertain, newProblem(ProblemOperationUncertain, http.StatusLocked,
			"a request with this idempotency key may have taken effect but did not finish; it will not run again with this key until the operation has been checked"))
	case OutcomeMismatch:
		e.emit(r, &Event{Type: EventPayloadMismatch, Status: 422})
		return e.refuse(r, OutcomeMismatch, newProblem(ProblemPayloadMismatch, 422,
			"this idempotency key was already used with a different request; use a new key for a new request"))
	default: // OutcomeConflict: still in flight after the lock wait
		p := newProblem(ProblemInFlight, 409, "a request with this idempotency key is still being processed; retry later")
		p.RetryAfter = retryAfter(c.lockWait)
		e.emit(r, &Event{Type: EventConcurrentConflict, Status: 409, Elapsed: r.m.LockWait})
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

// retryAfter is a 409's Retry-After in seconds: about the lock wait, at
// least 1 s and at most 60 (SPEC §3 step 12). The retry waits up to the
// lock wait again, so a client that comes back this soon neither misses
// the original's end nor hammers the store; the remaining lease (30 s by
// default) would send clients away far longer than most handlers run.
func retryAfter(lockWait time.Duration) int {
	return min(60, max(1, int((lockWait+time.Second-1)/time.Second)))
}

// misconfigured refuses a request that an option of another framework's
// adapter was asked to read (ErrForeignRequest): the server's fault, 500,
// never the client's.
func (e *Engine) misconfigured(r *request) error {
	return e.refuse(r, OutcomeStoreError, newProblem(ProblemMisconfigured, 500,
		"the idempotency middleware is misconfigured: an option for another framework was given to it"))
}

// refuse answers r with the problem p (step 12), through the error
// responder, or returns the responder's error for the adapter to hand to
// its framework.
func (e *Engine) refuse(r *request, o Outcome, p *Problem) error {
	r.answered(o, p.Status)
	resp, err := e.cfg.responder.RespondError(r.req, p)
	if err != nil {
		return err
	}
	r.ex.Reply(resp.Status, resp.Header, resp.Body)
	return nil
}

// resolveScope sets r.scope and r.storeKey. Built-in scopes build both in
// one string: the scope is a slice of the store key.
func (e *Engine) resolveScope(r *request) error {
	c := &e.cfg
	if c.scopeResolver != nil {
		scope, err := c.scopeResolver.ResolveScope(r.req)
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
			var ok bool
			if user, ok = c.userResolver(r.req); !ok {
				return ErrForeignRequest
			}
		}
	case ScopeGlobal:
		if c.userResolver != nil && !e.warnedGlobal.Load() {
			if u, _ := c.userResolver(r.req); u != "" && e.warnedGlobal.CompareAndSwap(false, true) {
				e.emit(r, &Event{Type: EventGlobalScopeUser,
					Detail: "the global scope shares keys between users; consider scope user or user_route"})
			}
		}
	case ScopeIP:
		ip = r.req.ClientIP()
	}
	r.storeKey, r.scope = builtinStoreKey(c.scope, user, r.m.Method, r.m.Route, ip, r.key)
	return nil
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
		r.answered(OutcomeBypass, 0)
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

// answered records how r was answered in its measurement.
func (r *request) answered(o Outcome, status int) { r.m.Outcome, r.m.Status = o, status }

// finish hands r's measurement to telemetry, once per request that was
// answered (Serve and Do defer it when telemetry is on).
func (e *Engine) finish(r *request) {
	if r.m.Outcome != "" {
		e.cfg.telemetry.Measure(r.ctx, &r.m)
	}
}
