package idemprom_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idemkit/idempotency/core"
	idemprom "github.com/idemkit/idempotency/telemetry/prometheus"
)

func TestCountersMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, err := idemprom.New(idemprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeOriginal, Method: "POST", Route: "/p", Status: 201, HandlerTime: 5 * time.Millisecond, ResponseSize: 100, Stored: true})
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeRepeated, Method: "POST", Route: "/p", Status: 201, ResponseSize: 100, LockWait: 20 * time.Millisecond})
	d.Measure(ctx, &core.Measurement{Outcome: core.OutcomeRepeated, Method: "POST", Route: "/p", Status: 201, ResponseSize: 100})
	d.Event(ctx, &core.Event{Type: core.EventPayloadMismatch})

	want := `
# HELP idempotency_requests_total Requests that reached the idempotency engine, by outcome.
# TYPE idempotency_requests_total counter
idempotency_requests_total{method="POST",outcome="original",route="/p"} 1
idempotency_requests_total{method="POST",outcome="repeated",route="/p"} 2
# HELP idempotency_cache_total Keyed requests answered from the store (hit) or by running the handler (miss).
# TYPE idempotency_cache_total counter
idempotency_cache_total{result="hit"} 2
idempotency_cache_total{result="miss"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "idempotency_requests_total", "idempotency_cache_total"); err != nil {
		t.Fatal(err)
	}
	if got := counter(t, reg, "idempotency_events_total", "event", "PAYLOAD_MISMATCH"); got != 1 {
		t.Fatalf("mismatch events = %v", got)
	}
	if got := counter(t, reg, "idempotency_events_total", "event", "STORE_UNAVAILABLE"); got != 0 {
		t.Fatalf("store events = %v, want a zero series", got)
	}
	if n, err := testutil.GatherAndCount(reg, "idempotency_lock_wait_seconds"); err != nil || n != 1 {
		t.Fatalf("lock wait series = %d, %v", n, err)
	}
}

func TestDoubleRegistrationIsAnError(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := idemprom.New(idemprom.WithRegisterer(reg)); err != nil {
		t.Fatal(err)
	}
	if _, err := idemprom.New(idemprom.WithRegisterer(reg)); err == nil {
		t.Fatal("second registration succeeded")
	}
}

// counter reads one labelled counter series as a scrape would see it.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}
