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
func (f *FlakyStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if err := f.fail(); err != nil {
		return core.BeginResult{}, err
	}
	return f.Store.Begin(ctx, key, a)
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

// Twice wraps a Store so that every call that changes it runs twice and
// the first reply is dropped, as happens when a client library resends a
// command after a read timeout although the command ran (go-redis does).
// The store must recognise its own resends (core.Store's contract):
// through Twice, a Begin must still win its claim, a Complete or Release
// must still succeed. It keeps the wrapped store's core.BatchRenewer.
func Twice(s core.Store) core.Store {
	t := twice{s}
	if br, ok := s.(core.BatchRenewer); ok {
		return twiceBatch{t, br}
	}
	return t
}

type twice struct{ core.Store }

func (t twice) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	_, _ = t.Store.Begin(ctx, key, a)
	return t.Store.Begin(ctx, key, a)
}

func (t twice) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	_ = t.Store.Renew(ctx, key, token, lease)
	return t.Store.Renew(ctx, key, token, lease)
}

func (t twice) Complete(ctx context.Context, key string, token uint64, payload []byte, ttl time.Duration) error {
	_ = t.Store.Complete(ctx, key, token, payload, ttl)
	return t.Store.Complete(ctx, key, token, payload, ttl)
}

func (t twice) Release(ctx context.Context, key string, token uint64) error {
	_ = t.Store.Release(ctx, key, token)
	return t.Store.Release(ctx, key, token)
}

type twiceBatch struct {
	twice
	br core.BatchRenewer
}

func (t twiceBatch) RenewBatch(ctx context.Context, lease time.Duration, rs []core.Renewal) {
	t.br.RenewBatch(ctx, lease, rs)
	t.br.RenewBatch(ctx, lease, rs)
}
