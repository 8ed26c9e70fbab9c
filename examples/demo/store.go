package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

// outageStore wraps a store with a switch that makes every call fail as
// an unreachable Redis would: with an error wrapping
// core.ErrStoreUnavailable, which the engine answers with 503 (fail
// closed). It is demo-local on purpose: the demo shows what a user sees,
// using only the public Store interface.
type outageStore struct {
	core.Store
	down atomic.Bool
}

var errOutage = fmt.Errorf("%w: demo outage (store switched off)", core.ErrStoreUnavailable)

func (s *outageStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if s.down.Load() {
		return core.BeginResult{}, errOutage
	}
	return s.Store.Begin(ctx, key, a)
}

func (s *outageStore) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Renew(ctx, key, token, lease)
}

func (s *outageStore) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Complete(ctx, key, token, state, payload, ttl)
}

func (s *outageStore) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Commit(ctx, key, token, sig)
}

func (s *outageStore) Resolve(ctx context.Context, key string, payload []byte, ttl time.Duration) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Resolve(ctx, key, payload, ttl)
}

func (s *outageStore) Release(ctx context.Context, key string, token uint64) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Release(ctx, key, token)
}

func (s *outageStore) Get(ctx context.Context, key string) (core.Record, error) {
	if s.down.Load() {
		return core.Record{}, errOutage
	}
	return s.Store.Get(ctx, key)
}

func (s *outageStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() {
		return errOutage
	}
	return s.Store.Delete(ctx, key)
}
