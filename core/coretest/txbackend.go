package coretest

import (
	"context"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// TxBackend is what the transactional cases of the adapter suite run on:
// a core.TxStore and the business table its transactions write to. The
// default is in memory (NewTxStore); a database store passes the same
// cases with a real table (Harness.Tx).
type TxBackend interface {
	// Store is the TxStore the middleware is built with.
	Store() core.TxStore
	// Insert begins the transaction of the claim the handler running with
	// ctx holds, on its first call (core.HoldResponse first, as a store's
	// accessor does), and inserts row into the business table in it.
	Insert(ctx context.Context, row string) error
	// Rows returns the committed rows, in the order they were inserted.
	Rows(t *testing.T) []string
	// FailNextCommit makes the next claim's transaction fail to commit
	// when the Engine completes it: neither its record nor its rows land.
	FailNextCommit(t *testing.T)
}

// memoryTx is the default TxBackend: a TxStore on a memory store.
type memoryTx struct{ s *TxStore }

var _ TxBackend = memoryTx{}

func (m memoryTx) Store() core.TxStore { return m.s }

func (memoryTx) Insert(ctx context.Context, row string) error { return insertTx(ctx, row) }

func (m memoryTx) Rows(*testing.T) []string { return m.s.Rows() }

func (m memoryTx) FailNextCommit(*testing.T) { m.s.FailCommits.Add(1) }

// insertTx inserts row in the in-memory transaction of ctx's claim.
func insertTx(ctx context.Context, row string) error {
	tx, err := BeginTx(ctx)
	if err != nil {
		return err
	}
	tx.Insert(row)
	return nil
}

// newTx returns a fresh TxBackend of the harness (Harness.Tx), by default
// in memory, and makes it the App's for the next start.
func (e *env) newTx() TxBackend {
	if e.h.Tx != nil {
		e.tx = e.h.Tx(e.t)
	} else {
		e.tx = memoryTx{NewTxStore(memory.New())}
	}
	return e.tx
}
