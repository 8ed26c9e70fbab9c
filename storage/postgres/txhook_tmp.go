package idempg

import (
	"context"
	"time"

	"github.com/idemkit/idempotency/core"
)

// TEMPORARY: copies of core.TxStore, core.ClaimTx and core.HoldResponse
// until core/txstore.go lands on main; deleted by the merge.

type coreTxStore interface {
	core.Store
	ClaimTx(ctx context.Context, key string, token uint64) (context.Context, coreClaimTx)
}

type coreClaimTx interface {
	Begun() bool
	Complete(ctx context.Context, state core.State, payload []byte, ttl time.Duration) error
	Rollback(ctx context.Context)
}

func coreHoldResponse(context.Context) error { return nil }
