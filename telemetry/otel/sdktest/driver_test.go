package idemotel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/idemkit/idempotency/core"
	idemotel "github.com/idemkit/idempotency/telemetry/otel"
)

func TestMetricsAndSpanEvents(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	d, err := idemotel.New(idemotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	ctx, span := tp.Tracer("test").Start(context.Background(), "POST /p")

	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeOriginal, Method: "POST", Route: "/p", HandlerTime: time.Millisecond, Stored: true, ResponseSize: 10})
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeRepeated, Method: "POST", Route: "/p", ResponseSize: 10, LockWait: time.Millisecond})
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeRepeated, Method: "POST", Route: "/p", ResponseSize: 10})
	d.Event(ctx, &core.Event{Type: core.EventPayloadMismatch, Scope: "user_route", Key: "h:abc", Status: 422})
	span.End()

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range sum.DataPoints {
					key := m.Name
					if v, ok := dp.Attributes.Value(attribute.Key("outcome")); ok {
						key += "/" + v.AsString()
					}
					if v, ok := dp.Attributes.Value(attribute.Key("event")); ok {
						key += "/" + v.AsString()
					}
					got[key] += dp.Value
				}
			}
		}
	}
	want := map[string]int64{
		"idempotency.requests/original":       1,
		"idempotency.requests/repeated":       2,
		"idempotency.events/PAYLOAD_MISMATCH": 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
	ended := spans.Ended()
	if len(ended) != 1 || len(ended[0].Events()) != 1 || ended[0].Events()[0].Name != "PAYLOAD_MISMATCH" {
		t.Fatalf("span events = %+v", ended)
	}
}

// Without WithMeterProvider the driver records through the global provider,
// as OpenTelemetry instrumentations do.
func TestGlobalProviderFallback(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	d, err := idemotel.New()
	if err != nil {
		t.Fatal(err)
	}
	d.Measure(context.Background(), &core.Measurement{Outcome: core.OutcomeMissing, Method: "POST", Route: "/p"})
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "idempotency.requests" && len(sum.DataPoints) == 1 && sum.DataPoints[0].Value == 1 {
				return
			}
		}
	}
	t.Fatalf("the global provider saw no idempotency.requests: %+v", rm.ScopeMetrics)
}
