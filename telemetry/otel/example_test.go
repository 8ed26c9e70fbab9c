package idemotel_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	idemotel "github.com/idemkit/idempotency/telemetry/otel"
)

// An application that set up OpenTelemetry at start-up (the SDK's
// MeterProvider and TracerProvider installed with otel.SetMeterProvider
// and otel.SetTracerProvider) creates the driver with the global
// providers and gives it to the Engine or adapter. The driver records
// metrics through the MeterProvider and adds events to whatever span is
// active in the context of the call: for HTTP, the span otelgin or
// otelecho started; for a consumer, the span it starts per message, as
// here. Without an SDK installed the globals are no-ops, so the code runs
// unchanged in tests.
func ExampleNew() {
	d, err := idemotel.New() // otel.GetMeterProvider()
	if err != nil {
		panic(err)
	}
	eng, err := core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithTelemetry(d),
	)
	if err != nil {
		panic(err)
	}
	defer eng.Close(context.Background())

	tracer := otel.Tracer("orders-consumer")
	for range 2 { // a delivery and its redelivery
		ctx, span := tracer.Start(context.Background(), "process message")
		res, replayed, err := eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
			return []byte("created"), nil
		})
		span.End()
		fmt.Println(string(res), replayed, err)
	}
	// Output:
	// created false <nil>
	// created true <nil>
}

// WithMeterProvider records through a provider other than the global one:
// one the application built for this component, or, as here, the no-op
// provider of the OpenTelemetry API, which turns the metrics off while
// events still reach the active span.
func ExampleWithMeterProvider() {
	d, err := idemotel.New(idemotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		panic(err)
	}
	eng := core.Must(core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithTelemetry(d),
	))
	ctx := context.Background()
	defer eng.Close(ctx)
	res, _, err := eng.Do(ctx, "orders", "msg-1", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		return []byte("created"), nil
	})
	fmt.Println(string(res), err)
	// Output: created <nil>
}

// printingSpan stands in for a recording span of an SDK: it prints the
// events the driver adds to it, with the key each one is about.
type printingSpan struct{ tracenoop.Span }

func (printingSpan) IsRecording() bool { return true }
func (printingSpan) AddEvent(name string, opts ...trace.EventOption) {
	cfg := trace.NewEventConfig(opts...)
	for _, a := range cfg.Attributes() {
		if a.Key == "idempotency.key" {
			fmt.Printf("span event %s key=%s\n", name, a.Value.AsString())
		}
	}
}

// Every event of the catalogue is added to the span in the call's
// context, named after the event type, with the scope kind, the key and
// the event's detail as attributes; request bodies never are, and the
// key is redacted to a hash prefix unless core.WithKeyRedaction(false).
// Here a message id reused with another payload adds PAYLOAD_MISMATCH to
// the span of the second delivery, where a trace view shows it.
func Example_spanEvents() {
	d, err := idemotel.New(idemotel.WithMeterProvider(metricnoop.NewMeterProvider()))
	if err != nil {
		panic(err)
	}
	eng := core.Must(core.New(
		core.WithStore(memory.New()),
		core.WithKeyValidator(core.Token()),
		core.WithTelemetry(d),
	))
	defer eng.Close(context.Background())
	ctx := trace.ContextWithSpan(context.Background(), printingSpan{})
	run := func(context.Context) ([]byte, error) { return []byte("created"), nil }

	_, _, _ = eng.Do(ctx, "orders", "msg-1", core.Fingerprint{1}, run)
	_, _, err = eng.Do(ctx, "orders", "msg-1", core.Fingerprint{2}, run)
	fmt.Println(errors.Is(err, core.ErrMismatch))
	// Output:
	// span event PAYLOAD_MISMATCH key=h:3a0de37932e8
	// true
}
