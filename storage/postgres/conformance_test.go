package idempg_test

import (
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
)

func TestConformance(t *testing.T) {
	pool := newPool(t)
	coretest.TestStore(t, func(t *testing.T) core.Store { return newStore(t, pool) })
}
