package coretest

import (
	"context"
	"sync"

	"github.com/idemkit/idempotency/core"
)

// Recorder is a TelemetryDriver that keeps everything it receives, for
// assertions.
type Recorder struct {
	mu       sync.Mutex
	events   []core.Event
	measured []core.Measurement
}

var _ core.TelemetryDriver = (*Recorder)(nil)

// Event implements core.TelemetryDriver.
func (r *Recorder) Event(_ context.Context, ev *core.Event) {
	r.mu.Lock()
	r.events = append(r.events, *ev)
	r.mu.Unlock()
}

// Measure implements core.TelemetryDriver.
func (r *Recorder) Measure(_ context.Context, m *core.Measurement) {
	r.mu.Lock()
	r.measured = append(r.measured, *m)
	r.mu.Unlock()
}

// Events returns the events of type t (all events when t is "").
func (r *Recorder) Events(t core.EventType) []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []core.Event
	for _, ev := range r.events {
		if t == "" || ev.Type == t {
			out = append(out, ev)
		}
	}
	return out
}

// Outcomes counts measurements by outcome.
func (r *Recorder) Outcomes() map[core.Outcome]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[core.Outcome]int{}
	for _, m := range r.measured {
		out[m.Outcome]++
	}
	return out
}

// Measurements returns a copy of every measurement.
func (r *Recorder) Measurements() []core.Measurement {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]core.Measurement(nil), r.measured...)
}
