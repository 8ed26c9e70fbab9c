package coretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
func (f *FlakyStore) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Complete(ctx, key, token, state, payload, ttl)
}

// Commit implements core.Store.
func (f *FlakyStore) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Commit(ctx, key, token, sig)
}

// Resolve implements core.Store.
func (f *FlakyStore) Resolve(ctx context.Context, key string, payload []byte, ttl time.Duration) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Resolve(ctx, key, payload, ttl)
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

func (t twice) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	_ = t.Store.Complete(ctx, key, token, state, payload, ttl)
	return t.Store.Complete(ctx, key, token, state, payload, ttl)
}

func (t twice) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	_ = t.Store.Commit(ctx, key, token, sig)
	return t.Store.Commit(ctx, key, token, sig)
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

// StallingStore wraps a Store whose Begin hangs, as a stalled network
// connection does, until the caller's context ends: only a deadline can
// free the request.
type StallingStore struct{ core.Store }

// Begin implements core.Store: it waits for ctx and fails with its error.
func (s StallingStore) Begin(ctx context.Context, _ string, _ core.Attempt) (core.BeginResult, error) {
	<-ctx.Done()
	return core.BeginResult{}, fmt.Errorf("%w: stalled: %w", core.ErrStoreUnavailable, ctx.Err())
}

// CorruptStore wraps a Store whose Begin finds a record it cannot trust
// (as the Redis store reports a record of an unknown format version).
type CorruptStore struct{ core.Store }

// Begin implements core.Store.
func (s CorruptStore) Begin(context.Context, string, core.Attempt) (core.BeginResult, error) {
	return core.BeginResult{}, fmt.Errorf("%w: %w: record format version \"9\"", core.ErrStoreUnavailable, core.ErrCorruptRecord)
}

// CompleteOutage wraps a Store whose Complete fails with a store error
// for a while after the first call, as during a short outage that starts
// while a handler runs.
type CompleteOutage struct {
	core.Store
	For   time.Duration
	mu    sync.Mutex
	until time.Time
	calls atomic.Int32
}

// Complete implements core.Store.
func (s *CompleteOutage) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	s.calls.Add(1)
	s.mu.Lock()
	if s.until.IsZero() {
		s.until = time.Now().Add(s.For)
	}
	down := time.Now().Before(s.until)
	s.mu.Unlock()
	if down {
		return fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ErrInjected)
	}
	return s.Store.Complete(ctx, key, token, state, payload, ttl)
}

// Calls returns how often Complete was called.
func (s *CompleteOutage) Calls() int { return int(s.calls.Load()) }

// BlockedCooldowns wraps a Store whose shared alert cooldown hangs until
// Unblock is called, to prove that alerting never waits on the store
// while serving a request.
type BlockedCooldowns struct {
	core.Store
	gate chan struct{}
	once sync.Once
}

// NewBlockedCooldowns returns s with a blocked AcquireCooldown.
func NewBlockedCooldowns(s core.Store) *BlockedCooldowns {
	return &BlockedCooldowns{Store: s, gate: make(chan struct{})}
}

// AcquireCooldown implements core.Cooldowns: it waits for Unblock.
func (b *BlockedCooldowns) AcquireCooldown(ctx context.Context, _ string, _ time.Duration) (bool, error) {
	select {
	case <-b.gate:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// Unblock lets AcquireCooldown answer.
func (b *BlockedCooldowns) Unblock() { b.once.Do(func() { close(b.gate) }) }

// SlowStore wraps a Store and adds Latency to every call, as a store
// across a slow network would. A RenewBatch of the wrapped store (one
// pipeline) pays the latency once; without one, SlowStore has none.
func SlowStore(s core.Store, latency time.Duration) core.Store {
	sl := slow{s, latency}
	if br, ok := s.(core.BatchRenewer); ok {
		return slowBatch{sl, br}
	}
	return sl
}

type slow struct {
	core.Store
	d time.Duration
}

func (s slow) wait(ctx context.Context) error {
	t := time.NewTimer(s.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", core.ErrStoreUnavailable, ctx.Err())
	}
}

func (s slow) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if err := s.wait(ctx); err != nil {
		return core.BeginResult{}, err
	}
	return s.Store.Begin(ctx, key, a)
}

func (s slow) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Renew(ctx, key, token, lease)
}

func (s slow) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Complete(ctx, key, token, state, payload, ttl)
}

func (s slow) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Commit(ctx, key, token, sig)
}

func (s slow) Release(ctx context.Context, key string, token uint64) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Release(ctx, key, token)
}

type slowBatch struct {
	slow
	br core.BatchRenewer
}

func (s slowBatch) RenewBatch(ctx context.Context, lease time.Duration, rs []core.Renewal) {
	if err := s.wait(ctx); err != nil {
		for i := range rs {
			rs[i].Err = err
		}
		return
	}
	s.br.RenewBatch(ctx, lease, rs)
}

// KilledAfterCommit wraps a Store as seen by an instance that dies right
// after a handler declares effects: once Commit succeeds for a claim,
// nothing more of that claim reaches the store (Renew, Complete and
// Release fail as an unreachable store would), so the claim's lease runs
// out with its record left committed, as after a SIGKILL.
type KilledAfterCommit struct {
	core.Store
	mu     sync.Mutex
	killed map[uint64]bool // tokens whose owner "died"
}

var _ core.Store = (*KilledAfterCommit)(nil)

// NewKilledAfterCommit wraps s.
func NewKilledAfterCommit(s core.Store) *KilledAfterCommit {
	return &KilledAfterCommit{Store: s, killed: map[uint64]bool{}}
}

func (k *KilledAfterCommit) dead(token uint64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.killed[token] {
		return fmt.Errorf("%w: %w (owner killed)", core.ErrStoreUnavailable, ErrInjected)
	}
	return nil
}

// Commit implements core.Store.
func (k *KilledAfterCommit) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	if err := k.dead(token); err != nil {
		return err
	}
	err := k.Store.Commit(ctx, key, token, sig)
	if err == nil {
		k.mu.Lock()
		k.killed[token] = true
		k.mu.Unlock()
	}
	return err
}

// Renew implements core.Store.
func (k *KilledAfterCommit) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	if err := k.dead(token); err != nil {
		return err
	}
	return k.Store.Renew(ctx, key, token, lease)
}

// Complete implements core.Store.
func (k *KilledAfterCommit) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if err := k.dead(token); err != nil {
		return err
	}
	return k.Store.Complete(ctx, key, token, state, payload, ttl)
}

// Release implements core.Store.
func (k *KilledAfterCommit) Release(ctx context.Context, key string, token uint64) error {
	if err := k.dead(token); err != nil {
		return err
	}
	return k.Store.Release(ctx, key, token)
}
