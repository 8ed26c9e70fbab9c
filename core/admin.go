package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
