package coretest

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

func init() {
	adapterCases = append(adapterCases, faultCases...)
}

// evictingStore reports that every claim evicted a completed record, as a
// bounded store under a flood does.
type evictingStore struct{ core.Store }

func (s evictingStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	res, err := s.Store.Begin(ctx, key, a)
	if err == nil && res.Outcome == core.OutcomeOriginal {
		res.Evicted = 2
	}
	return res, err
}

// faultCases hold the guarantees under faults and hostile input that do
// not depend on the store: every adapter must keep them.
var faultCases = []adapterCase{
	{name: "Step6_FoldedKeysKeepTheirOrder", run: func(t *testing.T, e *env) {
		// Go's decoders match keys case-insensitively, last wins: these
		// two bodies ask for different amounts and must not replay.
		e.start()
		wantStatus(t, e.do(req{key: k1, body: `{"amount":1,"AMOUNT":1000}`}), 201, "Original")
		wantProblem(t, e.do(req{key: k1, body: `{"AMOUNT":1000,"amount":1}`}), 422, core.ProblemPayloadMismatch)
		e.wantCount("items", 1)
	}},
	{name: "Step6_MultipartPartsCapped", run: func(t *testing.T, e *env) {
		// A low cap, so that the middleware refuses before any framework's
		// own multipart limit would (fasthttp pre-parses forms).
		e.start(core.WithMultipartLimits(10, 0))
		var b strings.Builder
		for i := range 11 {
			b.WriteString("--xx\r\nContent-Disposition: form-data; name=\"f")
			b.WriteString(strconv.Itoa(i))
			b.WriteString("\"\r\n\r\nv\r\n")
		}
		b.WriteString("--xx--\r\n")
		r := e.do(req{key: k1, body: b.String(), ctype: "multipart/form-data; boundary=xx"})
		wantProblem(t, r, 413, core.ProblemBodyTooLarge)
		e.wantCount("items", 0)
	}},
	{name: "Step4_KeyIdentityFollowsValidation", run: func(t *testing.T, e *env) {
		e.start()
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: strings.ToUpper(k1), body: payment}), 201, "Repeated")
		wantStatus(t, e.do(req{key: `"` + strings.ToUpper(k1) + `"`, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)

		e.start(core.Tag("key=ulid"))
		const ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
		wantStatus(t, e.do(req{key: strings.ToLower(ulid), body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: ulid, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)

		// Token keys are exact: letter case makes another key.
		e.start(core.WithKeyValidator(core.Token()))
		wantStatus(t, e.do(req{key: "order-a", body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: "ORDER-A", body: payment}), 201, "Original")
		e.wantCount("items", 2)

		// A custom validator may name the canonical form.
		trim := core.KeyValidatorFunc(func(k string) (string, error) { return strings.TrimPrefix(k, "v1:"), nil })
		e.start(core.WithKeyValidator(trim))
		wantStatus(t, e.do(req{key: "v1:abc", body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: "abc", body: payment}), 201, "Repeated")
		e.wantCount("items", 1)
	}},
	{name: "Step5_AnonymousSpaceIsUnforgeable", run: func(t *testing.T, e *env) {
		for _, s := range []core.Scope{core.ScopeUserRoute, core.ScopeUser} {
			e.start(core.WithScope(s))
			r := e.do(req{key: k1, body: payment}) // anonymous
			wantStatus(t, r, 201, "Original")
			for _, u := range []string{"guest", "%anonymous", "anonymous", "%"} {
				r := e.do(req{key: k1, body: payment, user: u})
				wantStatus(t, r, 201, "Original")
				if field(t, r.Body, "user") != u {
					t.Fatalf("%s: user %q got another user's response: %s", s, u, r.Body)
				}
			}
			wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
			e.wantCount("items", 5)
		}
	}},
	{name: "Step11_FailOpenNeverBypassesIntegrity", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.startStore(CorruptStore{e.newStore()}, core.WithFailOpen(true), core.WithTelemetry(rec))
		for range 2 {
			wantProblem(t, e.do(req{key: k1, body: payment}), 503, core.ProblemStoreUnavailable)
		}
		e.wantCount("items", 0)
		wantEvents(t, rec, core.EventRecordRejected, 2)
		wantEvents(t, rec, core.EventStoreUnavailable, 0)
	}},
	{name: "Step11_StalledStoreAnswersWithinTimeout", run: func(t *testing.T, e *env) {
		// The store hangs until the context ends: only the Engine's store
		// deadline can free the request, whatever the framework's context.
		e.startStore(StallingStore{e.newStore()}, core.WithStoreTimeout(150*time.Millisecond))
		done := make(chan Reply, 1)
		go func() { done <- e.do(req{key: k1, body: payment}) }()
		select {
		case r := <-done:
			wantProblem(t, r, 503, core.ProblemStoreUnavailable)
		case <-time.After(10 * time.Second):
			t.Fatal("a stalled store held the request: no store deadline")
		}
		e.wantCount("items", 0)
	}},
	{name: "Step9_CompletionRetriedUntilStored", run: func(t *testing.T, e *env) {
		// The store fails every completion for 400 ms from the first one:
		// the response is delivered, then stored once the store is back,
		// and the retry replays instead of running again.
		st := &CompleteOutage{Store: e.newStore(), For: 400 * time.Millisecond}
		rec := &Recorder{}
		e.startStore(st, core.Tag("lease=3s"), core.WithTelemetry(rec))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		time.Sleep(700 * time.Millisecond)
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		e.wantCount("items", 1)
		if st.Calls() < 3 {
			t.Fatalf("Complete called %d times, want retries", st.Calls())
		}
		if n := len(rec.Events(core.EventLockInconsistency)); n != 0 {
			t.Fatalf("%d LOCK_INCONSISTENCY events for a store outage", n)
		}
	}},
	{name: "Alerts_NeverOnTheRequestPath", run: func(t *testing.T, e *env) {
		st := NewBlockedCooldowns(e.newStore())
		defer st.Unblock()
		got := make(chan core.Event, 10)
		// A store timeout far beyond the wait below: a request that waited
		// on the cooldown would wait for that long.
		e.startStore(st, core.WithStoreTimeout(time.Minute), core.WithAlertHandler(func(_ context.Context, ev core.Event) { got <- ev }))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		// Two PAYLOAD_MISMATCH events while the shared cooldown hangs: the
		// requests must answer anyway.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 2 {
				wantProblem(t, e.do(req{key: k1, body: `{"amount":1}`}), 422, core.ProblemPayloadMismatch)
			}
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("requests waited on the alert cooldown")
		}
		select {
		case ev := <-got:
			t.Fatalf("alert %s delivered before its cooldown was acquired", ev.Type)
		default:
		}
		st.Unblock()
		select {
		case ev := <-got:
			if ev.Type != core.EventPayloadMismatch {
				t.Fatalf("alert %s, want PAYLOAD_MISMATCH", ev.Type)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("alert never delivered")
		}
	}},
	{name: "Store_ResentCommandsAreHarmless", run: func(t *testing.T, e *env) {
		// Every store call runs twice and the first reply is lost, as when
		// a client library resends after a read timeout.
		rec := &Recorder{}
		e.startStore(Twice(e.newStore()), core.Tag("wait=2s"), core.WithTelemetry(rec))
		var wg sync.WaitGroup
		replies := make([]Reply, 20)
		for i := range replies {
			wg.Go(func() { replies[i] = e.do(req{key: k1, body: payment, path: "/items/1?delay=100ms"}) })
		}
		wg.Wait()
		originals := 0
		for _, r := range replies {
			if r.Status != 201 {
				t.Fatalf("status %d %s: a resent command conflicted with itself", r.Status, r.Body)
			}
			if r.Header.Get("Idempotency-Status") == "Original" {
				originals++
			}
		}
		if originals != 1 {
			t.Fatalf("%d originals, want 1", originals)
		}
		e.wantCount("items", 1)
		wantStatus(t, e.do(req{key: k2, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k2, body: payment}), 201, "Repeated")
		// A 500 releases the claim (Release sent twice); the retry runs.
		const k3 = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a003"
		for range 2 {
			wantStatus(t, e.do(req{key: k3, body: payment, path: "/items/1?status=500"}), 500, "Original")
		}
		e.wantCount("items", 4)
		wantEvents(t, rec, core.EventLockInconsistency, 0)
	}},
	{name: "Events_RecordEvicted", run: func(t *testing.T, e *env) {
		rec := &Recorder{}
		e.startStore(evictingStore{e.newStore()}, core.WithTelemetry(rec))
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		evs := wantEvents(t, rec, core.EventRecordEvicted, 1)
		if evs[0].Hits != 2 {
			t.Fatalf("RECORD_EVICTED hits = %d, want 2", evs[0].Hits)
		}
	}},
}
