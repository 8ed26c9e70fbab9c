package memory_test

import (
	"testing"
	"time"

	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// 1,000 long handlers at 100 ms store latency keep every lease.
func TestRenewalAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 9 s")
	}
	coretest.TestRenewalAtScale(t, memory.New(), 1000, 100*time.Millisecond)
}
