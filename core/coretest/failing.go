package coretest

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

// FlakyStore wraps a Store and fails every call while Down is set, as an
// unreachable store would.
type FlakyStore struct {
	core.Store
	down atomic.Bool
}

var _ core.Store = (*FlakyStore)(nil)

// ErrInjected is the failure FlakyStore returns, wrapped in
// core.ErrStoreUnavailable.
var ErrInjected = errors.New("coretest: injected store failure")

// SetDown makes every call fail (true) or pass through (false).
func (f *FlakyStore) SetDown(down bool) { f.down.Store(down) }

func (f *FlakyStore) fail() error {
	if f.down.Load() {
		return fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ErrInjected)
	}
	return nil
}

// Begin implements core.Store.
func (f *FlakyStore) Begin(ctx context.Context, key string, fp core.Fingerprint, lease, ttl time.Duration) (core.BeginResult, error) {
	if err := f.fail(); err != nil {
		return core.BeginResult{}, err
	}
	return f.Store.Begin(ctx, key, fp, lease, ttl)
}

// Renew implements core.Store.
func (f *FlakyStore) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Renew(ctx, key, token, lease)
}

// Complete implements core.Store.
func (f *FlakyStore) Complete(ctx context.Context, key string, token uint64, payload []byte, ttl time.Duration) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Complete(ctx, key, token, payload, ttl)
}

// Release implements core.Store.
func (f *FlakyStore) Release(ctx context.Context, key string, token uint64) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Release(ctx, key, token)
}

// Get implements core.Store.
func (f *FlakyStore) Get(ctx context.Context, key string) (core.Record, error) {
	if err := f.fail(); err != nil {
		return core.Record{}, err
	}
	return f.Store.Get(ctx, key)
}
