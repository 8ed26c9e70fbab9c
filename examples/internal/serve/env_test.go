package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

type recorder struct{ events, measures int }

func (r *recorder) Event(context.Context, *core.Event)         { r.events++ }
func (r *recorder) Measure(context.Context, *core.Measurement) { r.measures++ }

func TestTee(t *testing.T) {
	a, b := &recorder{}, &recorder{}
	d := Tee(a, b)
	d.Event(context.Background(), &core.Event{Type: core.EventMissingKey})
	d.Measure(context.Background(), &core.Measurement{Outcome: core.OutcomeOriginal})
	d.Measure(context.Background(), &core.Measurement{Outcome: core.OutcomeRepeated})
	for _, r := range []*recorder{a, b} {
		if r.events != 1 || r.measures != 2 {
			t.Errorf("driver saw %+v, want 1 event and 2 measurements", *r)
		}
	}
	if Tee(a) != core.TelemetryDriver(a) {
		t.Error("a tee of one driver is not that driver")
	}
}

// Each Env has its own registry: two servers in one process (the demo,
// tests) must not collide, and each /metrics shows its own counts.
func TestEnvMetrics(t *testing.T) {
	e1, err := NewEnv(Config{}, quiet, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	e2, err := NewEnv(Config{}, quiet, memory.New())
	if err != nil {
		t.Fatal(err)
	}
	e1.Telemetry.Measure(context.Background(), &core.Measurement{Outcome: core.OutcomeOriginal, Method: "POST", Route: "/payments"})
	e1.Telemetry.Event(context.Background(), &core.Event{Type: core.EventPayloadMismatch})

	scrape := func(env *Env) string {
		w := httptest.NewRecorder()
		env.Metrics.ServeHTTP(w, httptest.NewRequest(http.MethodGet, MetricsPath, nil))
		if w.Code != 200 {
			t.Fatalf("metrics: %d", w.Code)
		}
		return w.Body.String()
	}
	m1, m2 := scrape(e1), scrape(e2)
	for _, want := range []string{
		`idempotency_requests_total{method="POST",outcome="original",route="/payments"} 1`,
		`idempotency_cache_total{result="miss"} 1`,
		`idempotency_events_total{event="PAYLOAD_MISMATCH"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(m1, want) {
			t.Errorf("first env's metrics lack %q", want)
		}
	}
	if strings.Contains(m2, `outcome="original"`) || !strings.Contains(m2, `idempotency_cache_total{result="miss"} 0`) {
		t.Errorf("second env shares the first one's counters:\n%s", m2)
	}
}
