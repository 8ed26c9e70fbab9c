package telemetry

import "github.com/idemkit/idempotency/core"

// Null drops every event and measurement. It is core.NullTelemetry, the
// Engine's default: passing it is the same as passing no telemetry
// option, and costs nothing per request.
type Null = core.NullTelemetry
