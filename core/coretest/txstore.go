package coretest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idemkit/idempotency/core"
)

// TxStore wraps a Store as a core.TxStore whose transactions live in
// memory: a handler begins one with BeginTx, inserts business rows into
// it, and they become visible (Rows) only when the Engine completes the
// claim in it, in the same step as the record. It lets the adapter suite
// check transactional completion (a held response, a rollback that
// replaces it) on every adapter without a database; storage/postgres
// passes the same cases on a real one.
type TxStore struct {
	core.Store
	mu   sync.Mutex
	rows []string
	// FailCommits makes the next N commits fail after the record was
	// written, as a COMMIT that did not land: the record and the rows
	// are rolled back.
	FailCommits atomic.Int32
}

var _ core.TxStore = (*TxStore)(nil)

// NewTxStore returns st as a TxStore.
func NewTxStore(st core.Store) *TxStore { return &TxStore{Store: st} }

// ErrCommitFailed is what a failing commit (FailCommits) returns.
var ErrCommitFailed = errors.New("coretest: commit failed")

// Rows returns the committed business rows.
func (s *TxStore) Rows() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rows...)
}

type txKey struct{}

// ClaimTx implements core.TxStore.
func (s *TxStore) ClaimTx(ctx context.Context, key string, token uint64) (context.Context, core.ClaimTx) {
	tx := &Tx{s: s, key: key, token: token}
	return context.WithValue(ctx, txKey{}, tx), tx
}

// Tx is a claim's in-memory transaction.
type Tx struct {
	s     *TxStore
	key   string
	token uint64
	mu    sync.Mutex
	begun bool
	ended bool
	rows  []string
}

// BeginTx returns the transaction of the claim the handler running with
// ctx holds, begun (core.HoldResponse first) on the first call.
func BeginTx(ctx context.Context) (*Tx, error) {
	tx, ok := ctx.Value(txKey{}).(*Tx)
	if !ok {
		return nil, errors.New("coretest: no transaction in this context")
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if !tx.begun {
		if err := core.HoldResponse(ctx); err != nil {
			return nil, err
		}
		tx.begun = true
	}
	return tx, nil
}

// Insert adds a business row to the transaction.
func (tx *Tx) Insert(row string) {
	tx.mu.Lock()
	tx.rows = append(tx.rows, row)
	tx.mu.Unlock()
}

// Begun implements core.ClaimTx.
func (tx *Tx) Begun() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.begun
}

// Complete implements core.ClaimTx: the record through the wrapped
// store's fenced Complete, then the rows, as one step.
func (tx *Tx) Complete(ctx context.Context, state core.State, payload []byte, ttl time.Duration) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.ended {
		return errors.New("coretest: transaction already ended")
	}
	tx.ended = true
	if tx.s.FailCommits.Add(-1) >= 0 {
		return ErrCommitFailed
	}
	tx.s.FailCommits.Add(1)
	if err := tx.s.Store.Complete(ctx, tx.key, tx.token, state, payload, ttl); err != nil {
		return err
	}
	tx.s.mu.Lock()
	tx.s.rows = append(tx.s.rows, tx.rows...)
	tx.s.mu.Unlock()
	return nil
}

// Rollback implements core.ClaimTx.
func (tx *Tx) Rollback(context.Context) {
	tx.mu.Lock()
	tx.ended, tx.rows = true, nil
	tx.mu.Unlock()
}
