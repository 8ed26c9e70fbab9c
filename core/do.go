package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Do runs fn at most once for key within scope, with the same protocol as
// HTTP requests: a completed key returns its stored result (replayed is
// true); a key in flight is waited for, then ErrInFlight; a key used with
// another fingerprint gives ErrMismatch; a store outage gives an error
// wrapping ErrStoreUnavailable (or runs fn when failing open). When fn
// returns an error or panics, the claim is released and a later Do runs
// again, unless fn declared effects (DeclareEffects with the context it
// is given): then the key becomes uncertain and later calls get
// ErrUncertain until it is resolved (Resolve). A result the store cannot
// hold leaves a tombstone: later calls get ErrResultUnavailable. fn's
// context also gives DerivedKey. It suits queue and webhook consumers:
//
//	res, replayed, err := eng.Do(ctx, "orders", msg.ID, core.Fingerprint{}, handle)
func (e *Engine) Do(ctx context.Context, scope, key string, fp Fingerprint, fn func(ctx context.Context) ([]byte, error)) (result []byte, replayed bool, err error) {
	c := &e.cfg
	r := &request{e: e, ctx: ctx, scope: scope}
	r.m.Method, r.m.Route = "DO", scope
	if e.measure {
		defer e.finish(r)
	}
	canon, err := e.validateKey(key)
	if err != nil {
		r.key = key
		e.emit(r, &Event{Type: EventInvalidKeyFormat, Detail: err.Error()})
		r.answered(OutcomeInvalid, 0)
		return nil, false, fmt.Errorf("%w: %w", ErrMalformedKey, err)
	}
	r.key, r.storeKey = canon, scopedKey(scope, canon)
	res, err := e.beginWait(r, fp)
	if err != nil {
		integrity := errors.Is(err, ErrCorruptRecord)
		if integrity {
			e.emit(r, &Event{Type: EventRecordRejected, Err: err, Detail: "stored record rejected (unknown format or undecodable)"})
		} else {
			e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: storeFailDetail(c.failOpen)})
		}
		if c.failOpen && !integrity {
			r.answered(OutcomeBypass, 0)
			// No claim: fn must not find an outer one (Do called from a
			// handler) and declare effects, or derive keys, for it.
			out, ferr := fn(withoutClaim{ctx})
			return out, false, ferr
		}
		r.answered(OutcomeStoreError, 0)
		if integrity || errors.Is(err, ErrStoreUnavailable) {
			return nil, false, err // an untrusted record is no outage
		}
		return nil, false, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	switch res.Outcome {
	case OutcomeRepeated:
		resp, err := c.serializer.Decode(res.Record.Payload)
		if err != nil {
			e.emit(r, &Event{Type: EventRecordRejected, Err: err, Detail: "stored result could not be decoded"})
			r.answered(OutcomeStoreError, 0)
			return nil, false, fmt.Errorf("%w: %w", ErrCorruptRecord, err)
		}
		e.countDuplicate(r, resp.Status)
		r.answered(OutcomeRepeated, resp.Status)
		r.m.ResponseSize = len(resp.Body)
		return resp.Body, true, nil
	case OutcomeMismatch:
		e.emit(r, &Event{Type: EventPayloadMismatch})
		r.answered(OutcomeMismatch, 0)
		return nil, false, ErrMismatch
	case OutcomeConflict:
		e.emit(r, &Event{Type: EventConcurrentConflict, Elapsed: r.m.LockWait})
		r.answered(OutcomeConflict, 0)
		return nil, false, ErrInFlight
	case OutcomeUnavailable:
		r.answered(OutcomeUnavailable, 0)
		return nil, false, ErrResultUnavailable
	case OutcomeUncertain:
		r.answered(OutcomeUncertain, 0)
		return nil, false, ErrUncertain
	}

	var out []byte
	lease, err := e.underClaim(r, res.Token, func() (err error) {
		out, err = fn(r)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if !lease.lost || lease.committed {
		r.m.Stored = e.complete(r, res.Token, lease, http.StatusOK, &Captured{Status: http.StatusOK, Body: out})
	}
	r.m.Status, r.m.ResponseSize = http.StatusOK, len(out)
	return out, false, nil
}

// Inspection describes one key for operators.
type Inspection struct {
	Record
	// Response is the decoded stored response of a completed record.
	Response *Response
	// Reason says why a tombstone or uncertain record was written.
	Reason string
	// Stranded is true for a committed claim whose lease has expired: its
	// owner died after declaring effects. The next request with the key
	// turns it uncertain; Resolve settles it.
	Stranded bool
}

// Inspect returns the record of key in scope (see ScopeString for the
// scopes the HTTP middleware uses), or ErrNotFound. With record signing,
// a record that does not verify is returned as stored together with an
// error wrapping ErrRecordRejected.
func (e *Engine) Inspect(ctx context.Context, scope, key string) (Inspection, error) {
	sk := scopedKey(scope, e.adminKey(key))
	rec, err := e.cfg.store.Get(ctx, sk)
	if err != nil {
		return Inspection{}, err
	}
	if e.ring != nil {
		if err := e.verifyRecord(sk, &rec); err != nil {
			return Inspection{Record: rec}, err // shown as stored, for the operator
		}
	}
	in := Inspection{Record: rec}
	switch rec.State {
	case StateTombstone, StateUncertain:
		in.Reason = string(rec.Payload)
	case StateInFlight:
		in.Stranded = rec.Committed && !rec.LeaseUntil.IsZero() && time.Now().After(rec.LeaseUntil)
	}
	if rec.State == StateCompleted {
		resp, err := e.cfg.serializer.Decode(rec.Payload)
		if err != nil {
			return in, err
		}
		in.Response = &resp
	}
	return in, nil
}

// Resolve settles a key that no request may run again by itself: an
// uncertain one (its handler failed, or its owner died, after declaring
// effects), a tombstone, or a committed claim whose owner died (see
// Inspection.Stranded). Find out first what happened (the payment
// provider's dashboard, the order table), then:
//
//   - resp nil releases the key: the next request with it runs the handler
//     afresh. Choose it when the effects did not happen.
//   - resp not nil completes the key with that response: requests with it
//     (and the same payload) get it replayed. Choose it when they did.
//     Headers are filtered as a handler's would be (no Set-Cookie, no
//     hop-by-hop ones).
//
// It returns ErrNotFound when the key has no record and ErrNotResolvable,
// changing nothing, when the record is anything else (a running claim, a
// completed response). With record signing, a response is signed only
// for a record that verifies: otherwise Resolve returns an error wrapping
// ErrRecordRejected and changes nothing. key is canonicalised as requests' keys are (UUID
// lower case) when it passes the Engine's validator.
func (e *Engine) Resolve(ctx context.Context, scope, key string, resp *Response) error {
	c := &e.cfg
	var payload []byte
	if resp != nil {
		if resp.Status < 100 || resp.Status > 999 {
			return fmt.Errorf("idempotency: resolve: status %d is not an HTTP status", resp.Status)
		}
		var err error
		if _, ok := c.serializer.(BinarySerializer); ok {
			payload = encodeBinary(nil, resp.Status, resp.Header, &c.headers, nil, resp.Body)
		} else {
			stored := Response{Status: resp.Status, Header: c.headers.storedHeaders(resp.Header, nil), Body: resp.Body}
			payload, err = c.serializer.Encode(nil, &stored)
		}
		if err != nil {
			return err
		}
	}
	sk := scopedKey(scope, e.adminKey(key))
	if payload != nil && e.ring != nil {
		// The seal binds the response to the record's fingerprint, so
		// that retries of the original request verify it.
		// The fingerprint is read from the store, so the record must
		// verify first: a writer who changed it would otherwise get the
		// response sealed for a request of its choosing. (Should it change
		// after this read, the seal no longer matches the record, which
		// then fails closed.)
		rec, err := c.store.Get(ctx, sk)
		if err != nil {
			return err
		}
		if err := e.verifyRecord(sk, &rec); err != nil {
			return fmt.Errorf("idempotency: resolve: the record does not verify, so no response is signed for it (release it instead): %w", err)
		}
		payload = e.ring.seal(sk, StateCompleted, &rec.Fingerprint, payload)
	}
	return c.store.Resolve(ctx, sk, payload, c.ttl)
}

// adminKey is key as requests name it, for operators who type it: the
// validator's canonical form when key is valid, else key as given.
func (e *Engine) adminKey(key string) string {
	if canon, err := e.validateKey(key); err == nil {
		return canon
	}
	return key
}

// Flush forgets key in scope, completed or in flight, so that the next
// request with it runs afresh. An in-flight owner's completion is then
// rejected by fencing.
func (e *Engine) Flush(ctx context.Context, scope, key string) error {
	err := e.cfg.store.Delete(ctx, scopedKey(scope, e.adminKey(key)))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// StoreKey returns the key under which the Engine stores key in scope, for
// tools that talk to the store directly.
func StoreKey(scope, key string) string { return scopedKey(scope, key) }
