package core_test

import (
	"context"
	"sync"

	"github.com/idemkit/idempotency/core"
)

// measureRecorder is a TelemetryDriver that files each Measurement under
// the fakeExchange whose request context it came with, so that a test
// can tell exactly how often one request was measured, even when
// requests nest (a duplicate served while the original's handler runs).
// Measurements from any other context (Engine.Do) go to others.
type measureRecorder struct {
	mu     sync.Mutex
	byX    map[*fakeExchange][]core.Measurement
	others []core.Measurement
}

var _ core.TelemetryDriver = (*measureRecorder)(nil)

func newMeasureRecorder() *measureRecorder {
	return &measureRecorder{byX: map[*fakeExchange][]core.Measurement{}}
}

// exchangeKey marks a request context with its fakeExchange.
type exchangeKey struct{}

// tag returns ctx (Background when nil) marked with x.
func (r *measureRecorder) tag(ctx context.Context, x *fakeExchange) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithValue(ctx, exchangeKey{}, x)
}

func (r *measureRecorder) Event(context.Context, *core.Event) {}

func (r *measureRecorder) Measure(ctx context.Context, m *core.Measurement) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if x, ok := ctx.Value(exchangeKey{}).(*fakeExchange); ok {
		r.byX[x] = append(r.byX[x], *m)
		return
	}
	r.others = append(r.others, *m)
}

// of returns the measurements of x's request.
func (r *measureRecorder) of(x *fakeExchange) []core.Measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Measurement(nil), r.byX[x]...)
}

// other returns the measurements not of a fakeExchange.
func (r *measureRecorder) other() []core.Measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Measurement(nil), r.others...)
}
