package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
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

	defer e.flights.claimEnded(r.storeKey) // wakes this process's duplicates (begin.go)
	e.attachTx(r, res.Token)
	defer e.rollbackTx(r) // a panic, or a path that did not end it
	var out []byte
	lease, err := e.underClaim(r, res.Token, func() (err error) {
		out, err = fn(r)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	switch {
	case lease.lost && !lease.committed:
		if r.txActive() {
			e.rollbackTx(r)
			r.t.notCommitted = notCommitted("the claim's lease was lost while fn ran")
		}
	default:
		r.m.Stored = e.complete(r, res.Token, lease, http.StatusOK, &Captured{Status: http.StatusOK, Body: out})
	}
	if r.t != nil && r.t.notCommitted != nil {
		p := r.t.notCommitted
		r.m.Status = p.Status
		return nil, false, fmt.Errorf("%w: %s", ErrNotCommitted, p.Detail)
	}
	r.m.Status, r.m.ResponseSize = http.StatusOK, len(out)
	return out, false, nil
}
