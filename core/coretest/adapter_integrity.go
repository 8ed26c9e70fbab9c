package coretest

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

func init() {
	adapterCases = append(adapterCases, integrityCases...)
}

// recordKey is the signing key of the integrity cases.
var recordKey = core.RecordKey{ID: "test", Secret: bytes.Repeat([]byte{7}, 32)}

// forge writes a completed record for key straight into st, as anything
// with write access to a shared store could: for the payment request the
// suite sends to route (so the fingerprint matches), with the attacker's body,
// Location and Set-Cookie.
func forge(t *testing.T, st core.Store, route, key string) {
	t.Helper()
	ctx := context.Background()
	fp, err := core.MustCanonicalHasher().Fingerprint(&core.FingerprintInput{
		Method: http.MethodPost, Path: "/items/1", Body: []byte(payment), ContentType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	sk := core.StoreKey(core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, route, ""), key)
	res, err := st.Begin(ctx, sk, core.Attempt{Fingerprint: fp, Nonce: 1, Lease: time.Minute, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("forging: Begin = %v, %v", res.Outcome, err)
	}
	payload, _ := core.BinarySerializer{}.Encode(nil, &core.Response{Status: 201, Body: []byte(`{"attacker":true}`),
		Header: http.Header{"Location": {"https://evil.example/"}, "Set-Cookie": {"session=stolen"}}})
	if err := st.Complete(ctx, sk, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// transplant copies the record of key from onto key to, byte for byte.
func transplant(t *testing.T, st core.Store, route, from, to string) {
	t.Helper()
	ctx := context.Background()
	scope := core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, route, "")
	rec, err := st.Get(ctx, core.StoreKey(scope, from))
	if err != nil {
		t.Fatal(err)
	}
	sk := core.StoreKey(scope, strings.ToLower(to)) // UUID keys are stored canonical
	res, err := st.Begin(ctx, sk, core.Attempt{Fingerprint: rec.Fingerprint, Nonce: 1, Lease: time.Minute, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("transplanting: Begin = %v, %v", res.Outcome, err)
	}
	if err := st.Complete(ctx, sk, res.Token, rec.State, rec.Payload, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// integrityCases hold SPEC §4's signed records as HTTP sees them.
var integrityCases = []adapterCase{
	{name: "Step11_ForgedRecordReplayedOnlyWithoutSigning", run: func(t *testing.T, e *env) {
		// Without signing, the forged record is replayed: the threat.
		// Set-Cookie is dropped on replay even so (defence in depth).
		e.start()
		forge(t, e.store, e.h.pattern("items"), k1)
		r := e.do(req{key: k1, body: payment})
		if r.Status != 201 || r.Header.Get("Idempotency-Status") != "Repeated" || string(r.Body) != `{"attacker":true}` {
			t.Fatalf("unsigned: %d %q %s: expected the forged record to be replayed (the threat this case guards)", r.Status, r.Header.Get("Idempotency-Status"), r.Body)
		}
		if len(r.Header.Values("Set-Cookie")) != 0 {
			t.Fatalf("a stored Set-Cookie was replayed: %v", r.Header.Values("Set-Cookie"))
		}
		// With signing, it is refused, and nothing runs.
		rec := &Recorder{}
		e.startStore(e.newStore(), core.WithRecordKeys(recordKey), core.WithTelemetry(rec), core.WithFailOpen(true))
		forge(t, e.store, e.h.pattern("items"), k1)
		for range 2 {
			wantProblem(t, e.do(req{key: k1, body: payment}), http.StatusServiceUnavailable, core.ProblemStoreUnavailable)
		}
		e.wantCount("items", 0)
		if len(rec.Events(core.EventRecordRejected)) == 0 {
			t.Fatal("RECORD_REJECTED did not fire")
		}
	}},
	{name: "Step11_TransplantedRecordRefused", run: func(t *testing.T, e *env) {
		e.start(core.WithRecordKeys(recordKey), core.WithRecordEncryption())
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Original")
		wantStatus(t, e.do(req{key: k1, body: payment}), 201, "Repeated")
		transplant(t, e.store, e.h.pattern("items"), k1, k2)
		wantProblem(t, e.do(req{key: k2, body: payment}), http.StatusServiceUnavailable, core.ProblemStoreUnavailable)
		e.wantCount("items", 1)
	}},
}
