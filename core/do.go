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
// again. It suits queue and webhook consumers:
//
//	res, replayed, err := eng.Do(ctx, "orders", msg.ID, core.Fingerprint{}, handle)
func (e *Engine) Do(ctx context.Context, scope, key string, fp Fingerprint, fn func(ctx context.Context) ([]byte, error)) (result []byte, replayed bool, err error) {
	c := &e.cfg
	if len(key) > c.maxKeyLength {
		return nil, false, fmt.Errorf("%w: key is longer than %d characters", ErrMalformedKey, c.maxKeyLength)
	}
	if err := c.validator.ValidateKey(key); err != nil {
		return nil, false, fmt.Errorf("%w: %v", ErrMalformedKey, err)
	}
	r := &request{ctx: ctx, method: "DO", route: scope, key: key, scope: scope, storeKey: scopedKey(scope, key)}
	res, err := e.beginWait(r, fp)
	if err != nil {
		e.emit(r, &Event{Type: EventStoreUnavailable, Err: err, Detail: storeFailDetail(c.failOpen)})
		if c.failOpen {
			out, ferr := fn(ctx)
			return out, false, ferr
		}
		return nil, false, fmt.Errorf("%w: %v", ErrStoreUnavailable, err)
	}
	switch res.Outcome {
	case Replay:
		resp, err := c.serializer.Decode(res.Record.Payload)
		if err != nil {
			return nil, false, err
		}
		return resp.Body, true, nil
	case Mismatch:
		e.emit(r, &Event{Type: EventPayloadMismatch})
		return nil, false, ErrMismatch
	case InFlight:
		e.emit(r, &Event{Type: EventConcurrentConflict, Elapsed: r.lockWait})
		return nil, false, ErrInFlight
	}

	var out []byte
	_, lost, err := e.underClaim(r, res.Token, func() (err error) {
		out, err = fn(ctx)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if !lost {
		e.complete(r, res.Token, http.StatusOK, &Captured{Status: http.StatusOK, Body: out})
	}
	return out, false, nil
}

// Inspection describes one key for operators.
type Inspection struct {
	Record
	// Response is the decoded stored response of a completed record.
	Response *Response
}

// Inspect returns the record of key in scope (see ScopeString for the
// scopes the HTTP middleware uses), or ErrNotFound.
func (e *Engine) Inspect(ctx context.Context, scope, key string) (Inspection, error) {
	rec, err := e.cfg.store.Get(ctx, scopedKey(scope, key))
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{Record: rec}
	if rec.State == StateCompleted {
		resp, err := e.cfg.serializer.Decode(rec.Payload)
		if err != nil {
			return in, err
		}
		in.Response = &resp
	}
	return in, nil
}

// Flush forgets key in scope, completed or in flight, so that the next
// request with it runs afresh. An in-flight owner's completion is then
// rejected by fencing.
func (e *Engine) Flush(ctx context.Context, scope, key string) error {
	err := e.cfg.store.Delete(ctx, scopedKey(scope, key))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// StoreKey returns the key under which the Engine stores key in scope, for
// tools that talk to the store directly.
func StoreKey(scope, key string) string { return scopedKey(scope, key) }
