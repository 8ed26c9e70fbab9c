package coretest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// leaseLosingStore refuses every renewal, as a store whose claim was taken
// over (or flushed) would.
type leaseLosingStore struct{ core.Store }

func (leaseLosingStore) Renew(context.Context, string, uint64, time.Duration) error {
	return core.ErrLeaseLost
}

func wantEvents(t *testing.T, rec *Recorder, typ core.EventType, n int) []core.Event {
	t.Helper()
	evs := rec.Events(typ)
	if len(evs) != n {
		t.Fatalf("%s fired %d times, want %d (all events: %v)", typ, len(evs), n, eventTypes(rec.Events("")))
	}
	return evs
}

func eventTypes(evs []core.Event) []core.EventType {
	out := make([]core.EventType, len(evs))
	for i, ev := range evs {
		out[i] = ev.Type
	}
	return out
}

func init() {
	adapterCases = append(adapterCases, eventCases...)
}

var eventCases = []adapterCase{
	{name: "Events_QuietOnTheHappyPath", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec))
		e.do(req{key: k1, body: payment})
		e.do(req{key: k1, body: payment})
		wantEvents(t, rec, "", 0)
		got := rec.Outcomes()
		if got[core.OutcomeOriginal] != 1 || got[core.OutcomeRepeated] != 1 || len(got) != 2 {
			t.Fatalf("outcomes = %v", got)
		}
		for _, m := range rec.Measurements() {
			if m.Route != e.h.pattern("items") || m.Method != "POST" || m.Status != 201 {
				t.Fatalf("measurement = %+v", m)
			}
			if m.Outcome == core.OutcomeOriginal && (!m.Stored || m.ResponseSize == 0) {
				t.Fatalf("original measurement = %+v", m)
			}
		}
	}},
	{name: "Events_ClientMistakes", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec))
		e.do(req{body: payment})
		wantEvents(t, rec, core.EventMissingKey, 1)
		e.do(req{key: "secret-not-a-uuid", body: payment})
		ev := wantEvents(t, rec, core.EventInvalidKeyFormat, 1)[0]
		if strings.Contains(ev.Key, "secret") || !strings.HasPrefix(ev.Key, "h:") {
			t.Fatalf("key not redacted: %q", ev.Key)
		}
		e.do(req{key: k1, body: payment})
		e.do(req{key: k1, body: `{"amount":1}`})
		ev = wantEvents(t, rec, core.EventPayloadMismatch, 1)[0]
		if ev.Key != core.RedactKey(k1) || ev.Scope != "user_route" || ev.Route != e.h.pattern("items") || ev.Status != 422 {
			t.Fatalf("mismatch event = %+v", ev)
		}
		got := rec.Outcomes()
		if got[core.OutcomeMissing] != 1 || got[core.OutcomeInvalid] != 1 || got[core.OutcomeMismatch] != 1 || got[core.OutcomeOriginal] != 1 {
			t.Fatalf("outcomes = %v", got)
		}
	}},
	{name: "Events_ConflictAndException", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec), core.Tag("wait=0s"))
		done := make(chan struct{})
		go func() { e.do(req{key: k1, body: payment, path: "/items/1?delay=300ms"}); close(done) }()
		time.Sleep(80 * time.Millisecond)
		e.do(req{key: k1, body: payment, path: "/items/1?delay=300ms"})
		<-done
		wantEvents(t, rec, core.EventConcurrentConflict, 1)
		e.do(req{key: k2, body: payment, path: "/items/1?panic=1"})
		wantEvents(t, rec, core.EventExceptionThrown, 1)
		if got := rec.Outcomes(); got[core.OutcomeConflict] != 1 {
			t.Fatalf("outcomes = %v", got)
		}
	}},
	{name: "Events_SizeWarnings", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec), core.WithSizeWarning(400), core.WithMaxResponseBytes(800))
		e.do(req{key: k1, body: payment, path: "/items/1?size=300"})
		wantEvents(t, rec, "", 0)
		e.do(req{key: k2, body: payment, path: "/items/1?size=600"})
		ev := wantEvents(t, rec, core.EventSizeWarning, 1)[0]
		if ev.Size != 600 {
			t.Fatalf("size = %d", ev.Size)
		}
		e.do(req{key: "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a009", body: payment, path: "/items/1?size=1000"})
		wantEvents(t, rec, core.EventSizeWarning, 2)
	}},
	{name: "Events_DuplicateThreshold", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec), core.WithDuplicateThreshold(3))
		e.do(req{key: k1, body: payment})
		for i := 1; i <= 6; i++ {
			e.do(req{key: k1, body: payment})
			want := 0
			if i >= 3 {
				want = 1
			}
			if i >= 6 {
				want = 2
			}
			wantEvents(t, rec, core.EventResponseDuplicate, want)
		}
		if hits := rec.Events(core.EventResponseDuplicate)[1].Hits; hits != 6 {
			t.Fatalf("hits = %d, want 6", hits)
		}
	}},
	{name: "Events_StoreUnavailable", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		fs := &FlakyStore{Store: e.newStore()}
		e.startStore(fs, core.WithTelemetry(rec))
		fs.SetDown(true)
		e.do(req{key: k1, body: payment})
		wantEvents(t, rec, core.EventStoreUnavailable, 1)
		if got := rec.Outcomes(); got[core.OutcomeStoreError] != 1 {
			t.Fatalf("outcomes = %v", got)
		}
	}},
	{name: "Events_LeaseLostWhileRunning", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.startStore(leaseLosingStore{e.newStore()}, core.WithTelemetry(rec), core.Tag("lease=60ms"))
		r := e.do(req{key: k1, body: payment, path: "/items/1?delay=250ms"})
		wantStatus(t, r, 201, "Original")
		wantEvents(t, rec, core.EventLockInconsistency, 1)
		// The result was not stored: the claim may belong to someone else.
		if got := e.do(req{key: k1, body: payment, path: "/items/1?delay=250ms"}); got.Header.Get("Idempotency-Status") != "Original" {
			t.Fatalf("a response whose lease was lost was replayed")
		}
	}},
	{name: "Events_GlobalScopeWarnsOnce", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.start(core.WithTelemetry(rec), core.WithScope(core.ScopeGlobal))
		e.do(req{key: k1, body: payment})
		wantEvents(t, rec, core.EventGlobalScopeUser, 0)
		e.do(req{key: k2, body: payment, user: "alice"})
		e.do(req{key: k2, body: payment, user: "bob"})
		wantEvents(t, rec, core.EventGlobalScopeUser, 1)
	}},
	{name: "Alerts_CooldownPerEventAndScope", run: func(t *testing.T, e *env) {
		var mu sync.Mutex
		var alerts []core.Event
		got := make(chan struct{}, 100)
		handler := func(_ context.Context, ev core.Event) {
			mu.Lock()
			alerts = append(alerts, ev)
			mu.Unlock()
			got <- struct{}{}
		}
		e.start(core.WithAlertHandler(handler), core.WithAlertCooldown(time.Hour))
		e.do(req{key: k1, body: payment, user: "alice"})
		for i := 0; i < 5; i++ {
			e.do(req{key: k1, body: `{"amount":1}`, user: "alice"})
		}
		e.do(req{key: k1, body: payment, user: "bob"})
		e.do(req{key: k1, body: `{"amount":1}`, user: "bob"}) // another scope alerts too
		for i := 0; i < 2; i++ {
			select {
			case <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("alert not delivered")
			}
		}
		time.Sleep(50 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if len(alerts) != 2 || alerts[0].Type != core.EventPayloadMismatch {
			t.Fatalf("alerts = %v, want one PAYLOAD_MISMATCH per scope", eventTypes(alerts))
		}
	}},
}
