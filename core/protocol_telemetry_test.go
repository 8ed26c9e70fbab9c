package core_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	"github.com/idemkit/idempotency/telemetry"
)

// Every request the Engine answers is measured exactly once, with what it
// learnt (SPEC §5), whichever way the request ends, and a request it lets
// through untouched (step 1) not at all: a driver counting requests must
// neither miss the panicking ones nor count a request twice.
func TestTelemetryOneMeasurementPerRequest(t *testing.T) {
	rec := newMeasureRecorder()
	e := newEngine(t, core.WithTelemetry(rec), core.WithKeyValidator(core.UUID()),
		core.WithOptional(true), core.WithLockWait(0))
	t.Cleanup(func() { _ = e.Close(context.Background()) })

	serveTagged := func(x *fakeExchange) *fakeExchange {
		x.ctx = rec.tag(context.Background(), x)
		_, _ = serve(e, x)
		return x
	}
	one := func(name string, x *fakeExchange, want core.Measurement) core.Measurement {
		t.Helper()
		ms := rec.of(x)
		if len(ms) != 1 {
			t.Fatalf("%s: %d measurements, want 1: %+v", name, len(ms), ms)
		}
		m := ms[0]
		if m.Outcome != want.Outcome || m.Status != want.Status || m.Method != want.Method || m.Route != want.Route ||
			m.Stored != want.Stored || m.ResponseSize != want.ResponseSize {
			t.Errorf("%s: measured %+v, want %+v", name, m, want)
		}
		return m
	}

	// Untouched: another method, no route.
	for _, x := range []*fakeExchange{
		serveTagged(post(k1, payment).as(http.MethodGet)),
		serveTagged(post(k1, payment).at("", "/nowhere")),
	} {
		if ms := rec.of(x); len(ms) != 0 || x.passes != 1 {
			t.Errorf("%s %s: passes %d, measured %+v, want passed and unmeasured", x.method, x.path, x.passes, ms)
		}
	}

	// A panicking handler: measured once, as a 500 original, before the
	// panic reaches the framework's recovery.
	m := one("panic", serveTagged(post(k1, payment).handle(panics())),
		core.Measurement{Outcome: core.OutcomeOriginal, Status: 500, Method: "POST", Route: "/items/:id"})
	if m.HandlerTime <= 0 {
		t.Errorf("panic: HandlerTime %v, want the time the handler ran", m.HandlerTime)
	}

	// An original, stored, then its replay, with the response size.
	one("original", serveTagged(post(k1, payment).handle(respond(201, "twelve bytes"))),
		core.Measurement{Outcome: core.OutcomeOriginal, Status: 201, Method: "POST", Route: "/items/:id", Stored: true, ResponseSize: 12})
	one("replay", serveTagged(post(k1, payment)),
		core.Measurement{Outcome: core.OutcomeRepeated, Status: 201, Method: "POST", Route: "/items/:id", ResponseSize: 12})

	// A refusal, and a bypass (optional route, no key).
	one("refusal", serveTagged(post("not-a-uuid", payment)),
		core.Measurement{Outcome: core.OutcomeInvalid, Status: 400, Method: "POST", Route: "/items/:id"})
	one("bypass", serveTagged(post("", payment).as(http.MethodDelete)),
		core.Measurement{Outcome: core.OutcomeBypass, Method: "DELETE", Route: "/items/:id"})

	// Engine.Do: labelled DO and by its scope, never by a key.
	ctx := context.Background()
	fn := func(context.Context) ([]byte, error) { return []byte("done"), nil }
	for range 2 {
		if _, _, err := e.Do(ctx, "orders", k2, core.Fingerprint{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	do := rec.other()
	if len(do) != 2 {
		t.Fatalf("Do: %d measurements for 2 calls: %+v", len(do), do)
	}
	for i, want := range []core.Measurement{
		{Outcome: core.OutcomeOriginal, Status: 200, Method: "DO", Route: "orders", Stored: true, ResponseSize: 4},
		{Outcome: core.OutcomeRepeated, Status: 200, Method: "DO", Route: "orders", ResponseSize: 4},
	} {
		if got := do[i]; got.Outcome != want.Outcome || got.Status != want.Status || got.Method != want.Method ||
			got.Route != want.Route || got.Stored != want.Stored || got.ResponseSize != want.ResponseSize {
			t.Errorf("Do %d: measured %+v, want %+v", i, got, want)
		}
	}
}

// telemetry.Null is core.NullTelemetry itself, not a type defined on it:
// the Engine recognises the null driver by its type.
var _ core.NullTelemetry = telemetry.Null{}

// telemetry.Null costs nothing: passing it is the same Engine as passing
// no telemetry option, down to the allocation, on the hottest path (a
// replay). (Today a measuring Engine allocates nothing more either, the
// Measurement lives in the request; this guards the day it does.)
func TestNullTelemetryCostsNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts vary under -race (sync.Pool drops items at random)")
	}
	replayAllocs := func(opts ...core.Option) float64 {
		e, err := core.New(append([]core.Option{core.WithStore(memory.New())}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Close(context.Background()) })
		if p, _ := serve(e, post(k1, payment)); p != nil {
			t.Fatal(p)
		}
		x := post(k1, payment)
		return testing.AllocsPerRun(200, func() {
			x.entered, x.replies, x.respHdr, x.status = false, x.replies[:0], nil, 0
			if err := e.Serve(x); err != nil || x.status != 201 || x.runs != 0 {
				t.Fatalf("replay: %v, status %d, runs %d", err, x.status, x.runs)
			}
		})
	}
	without := replayAllocs()
	null := replayAllocs(core.WithTelemetry(telemetry.Null{}))
	if null != without {
		t.Fatalf("a replay allocates %v times with telemetry.Null, %v without telemetry: Null must cost nothing", null, without)
	}
	t.Logf("a replay through the fake allocates %v times either way", without)
}
