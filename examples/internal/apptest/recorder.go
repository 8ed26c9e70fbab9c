package apptest

import (
	"context"
	"strings"
	"sync"

	"github.com/idemkit/idempotency/core"
)

// recorder is a TelemetryDriver that remembers which routes it measured.
type recorder struct {
	mu     sync.Mutex
	byPath []string
}

func (r *recorder) Event(context.Context, *core.Event) {}

func (r *recorder) Measure(_ context.Context, m *core.Measurement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byPath = append(r.byPath, m.Method+" "+m.Route)
}

func (r *recorder) routes() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.byPath, ",")
}
