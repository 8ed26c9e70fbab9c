package e2e

import (
	"os"
	"testing"

	"github.com/idemkit/idempotency/examples/internal/servertest"
)

// The helpers that build and start the servers are in
// examples/internal/servertest, shared with the fault suite
// (examples/faults).

func TestMain(m *testing.M) {
	code := m.Run()
	servertest.Cleanup()
	os.Exit(code)
}
