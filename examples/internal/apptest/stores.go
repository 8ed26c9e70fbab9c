package apptest

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/idemkit/idempotency/core"
)

// refuseCommit is a store that, while refuse is set, cannot record
// declared effects, as an unreachable store could not.
type refuseCommit struct {
	core.Store
	refuse atomic.Bool
}

func (s *refuseCommit) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	if s.refuse.Load() {
		return fmt.Errorf("%w: test outage", core.ErrStoreUnavailable)
	}
	return s.Store.Commit(ctx, key, token, sig)
}
