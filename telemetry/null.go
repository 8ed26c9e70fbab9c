package telemetry

import (
	"context"

	"github.com/idemkit/idempotency/core"
)

var _ core.TelemetryDriver = Null{}

// Null drops every event and measurement. An Engine without a telemetry
// option behaves as if it had Null.
type Null struct{}

// Event implements core.TelemetryDriver.
func (Null) Event(context.Context, *core.Event) {}

// Measure implements core.TelemetryDriver.
func (Null) Measure(context.Context, *core.Measurement) {}
