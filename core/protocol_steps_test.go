package core_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
)

// Keys and bodies of the rows.
const (
	k1      = "5f0c3b4e-8d2a-4c1b-9e7f-0a1b2c3d4e5f"
	k2      = "0b8e1a6c-3f2d-4e5a-8b9c-1d2e3f4a5b6c"
	payment = `{"amount":100,"currency":"EUR"}`
)

var (
	errHandler = errors.New("handler failed")
	errRefused = errors.New("refusal handed to the framework")
	// errHandlerPanic is what panicking handlers panic with, so that a
	// row can tell the handler's panic from one of the Engine's.
	errHandlerPanic = errors.New("handler panicked")
)

// post is a POST of body with key (none when "") to /items/:id, answered
// 201 "created" unless handle sets another handler.
func post(key, body string) *fakeExchange { return newPost(key, body, nil) }

// fails is a handler that writes nothing and returns err.
func fails(err error) fakeHandler {
	return func(context.Context, *fakeWriter) error { return err }
}

// panics is a handler that panics before writing.
func panics() fakeHandler {
	return func(context.Context, *fakeWriter) error { panic(errHandlerPanic) }
}

// streams is a handler that flushes a status-200 response as it goes.
func streams() fakeHandler {
	return func(_ context.Context, w *fakeWriter) error {
		_, _ = w.Write([]byte("chunk 1\n"))
		w.Flush()
		_, _ = w.Write([]byte("chunk 2\n"))
		return nil
	}
}

// declaresThen is a handler that declares irreversible effects, then runs h.
func declaresThen(h fakeHandler) fakeHandler {
	return func(ctx context.Context, w *fakeWriter) error {
		if err := core.DeclareEffects(ctx); err != nil {
			return err
		}
		return h(ctx, w)
	}
}

// storeDown takes the row's store down (true) or brings it back.
func storeDown(down bool) func(*protoEnv) { return func(p *protoEnv) { p.store.SetDown(down) } }

// header checks that the client got header name with value ("" absent).
func header(name, value string) func(*testing.T, *fakeExchange) {
	return func(t *testing.T, x *fakeExchange) {
		t.Helper()
		if got := strings.Join(x.response().Values(name), ", "); got != value {
			t.Errorf("%s: %q, want %q", name, got, value)
		}
	}
}

// replayLacks checks that the Engine's replay carried none of names (the
// client may still see them: outer middleware set its own).
func replayLacks(names ...string) func(*testing.T, *fakeExchange) {
	return func(t *testing.T, x *fakeExchange) {
		t.Helper()
		if len(x.replies) != 1 {
			t.Fatalf("replies %d, want the replay", len(x.replies))
		}
		for _, n := range names {
			if v, ok := x.replies[0].header[n]; ok {
				t.Errorf("replay carried %s: %q", n, v)
			}
		}
	}
}

// body checks what the client read.
func body(want string) func(*testing.T, *fakeExchange) {
	return func(t *testing.T, x *fakeExchange) {
		t.Helper()
		if string(x.respBody) != want {
			t.Errorf("body %q, want %q", x.respBody, want)
		}
	}
}

// protocolCases are TestProtocol's rows, named after the step of SPEC §3
// whose decision they pin.
var protocolCases = []protoCase{
	// Step 1, skip: untouched (Pass, no header, no measurement).
	{name: "Step1_MethodOutsideMethodsPasses", steps: []step{
		{x: post(k1, payment).as(http.MethodGet), want: untouched(201)},
		{x: post(k1, payment).as(http.MethodGet), want: untouched(201)},
	}},
	{name: "Step1_MethodsOption", opts: []core.Option{core.WithMethods(http.MethodPut)}, steps: []step{
		{x: post(k1, payment), want: untouched(201)},
		{x: post(k1, payment).as(http.MethodPut), want: original(201)},
	}},
	{name: "Step1_SkipFunc", opts: []core.Option{core.WithSkip(func(r core.Request) bool {
		return len(r.Header("X-Internal")) > 0
	})}, steps: []step{
		{x: post(k1, payment).withHeader("X-Internal", "1"), want: untouched(201)},
		{x: post(k1, payment).withHeader("X-Internal", "1"), want: untouched(201)},
		{x: post(k1, payment), want: original(201)},
	}},
	{name: "Step1_UnmatchedRoutePasses", steps: []step{
		// The framework's own 404 answers, and nothing is claimed or
		// measured: random paths create no keys and no series.
		{x: post(k1, payment).at("", "/nowhere").handle(respond(404, "not found")), want: untouched(404)},
		{x: post(k1, payment).at("", "/nowhere").handle(respond(404, "not found")), want: untouched(404)},
	}},
	{name: "Step1_AlreadyEnteredPasses", steps: []step{
		// An outer idempotency middleware handles it; this one never
		// claims it a second time.
		{x: func() *fakeExchange { x := post(k1, payment); x.entered = true; return x }(), want: untouched(201)},
	}},

	// Step 2, key extraction.
	{name: "Step2_SeveralKeys400", steps: []step{
		{x: post("", payment).withHeader(core.DefaultHeaderName, k1, k2), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
		{x: post("", payment).withHeader(core.DefaultHeaderName, k1+", "+k2), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
		{x: post("", payment).withHeader(core.DefaultHeaderName, `"`+k1+`", "`+k2+`"`), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
	}},
	{name: "Step2_SfStringKey", steps: []step{
		{x: post(`"`+k1+`"`, payment), want: original(201)},
		{x: post(k1, payment), want: repeated(201)},
	}},
	{name: "Step2_HeaderNameOption", opts: []core.Option{core.WithHeaderName("X-Webhook-ID"), core.WithKeyValidator(core.Token())}, steps: []step{
		{x: post("", payment).withHeader("X-Webhook-ID", "evt_1"), want: original(201)},
		{x: post("", payment).withHeader("X-Webhook-ID", "evt_1"), want: repeated(201)},
		{x: post(k1, payment), want: refused(400, core.ProblemMissingKey, core.OutcomeMissing)},
	}},

	// Step 3, missing key.
	{name: "Step3_MissingRequired400", steps: []step{
		{x: post("", payment), want: refused(400, core.ProblemMissingKey, core.OutcomeMissing)},
	}},
	{name: "Step3_MissingOptionalPasses", opts: []core.Option{core.WithOptional(true)}, steps: []step{
		{x: post("", payment), want: bypassed(201)},
		{x: post("", payment), want: bypassed(201)}, // nothing was claimed
		{x: post(k1, payment), want: original(201)}, // a key still counts
		{x: post(k1, payment), want: repeated(201)},
	}},
	{name: "Step3_NoClaimWithoutKey", opts: []core.Option{core.WithOptional(true)}, steps: []step{
		// Nothing protects a request without a key: DeclareEffects says so.
		{x: post("", payment).handle(declaresThen(respond(201, "created"))),
			want: want{err: core.ErrNoClaim, ran: true, passed: true, outcome: core.OutcomeBypass}},
	}},

	// Step 4, validation and identity.
	{name: "Step4_InvalidKey400", steps: []step{
		{x: post("not-a-uuid", payment), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
		{x: post(k1+"0", payment), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
		{x: post(k1, payment), want: original(201)}, // nothing was claimed by the refusals
	}},
	{name: "Step4_MaxKeyLength", opts: []core.Option{core.WithKeyValidator(core.Token()), core.WithMaxKeyLength(8)}, steps: []step{
		{x: post("123456789", payment), want: refused(400, core.ProblemInvalidKey, core.OutcomeInvalid)},
		{x: post("12345678", payment), want: original(201)},
	}},
	{name: "Step4_UUIDCaseFolds", steps: []step{
		{x: post(strings.ToUpper(k1), payment), want: original(201)},
		{x: post(k1, payment), want: repeated(201)},
	}},
	{name: "Step4_TokenKeysAreExact", opts: []core.Option{core.WithKeyValidator(core.Token())}, steps: []step{
		{x: post("evt-abc", payment), want: original(201)},
		{x: post("EVT-ABC", payment), want: original(201)},
	}},

	// Step 5, scope.
	{name: "Step5_ScopesSeparateUsers", steps: []step{
		{x: post(k1, payment).by("alice"), want: original(201)},
		{x: post(k1, payment).by("bob"), want: original(201)},
		{x: post(k1, payment), want: original(201)}, // the anonymous space
		{x: post(k1, payment).by("alice"), want: repeated(201)},
	}},
	{name: "Step5_ScopesSeparateRoutes", steps: []step{
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, payment).at("/other/:id", "/other/1"), want: original(201)},
		{x: post(k1, payment).as(http.MethodPut), want: original(201)},
	}},
	{name: "Step5_RouteScopeIsThePatternNotThePath", opts: []core.Option{core.WithScope(core.ScopeRoute)}, steps: []step{
		// One scope for /items/1 and /items/2; the path is in the
		// fingerprint, so the key's reuse for another item is a mismatch.
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, payment).at("/items/:id", "/items/2"), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
	}},
	{name: "Step5_AnonymousIsNotGuest", opts: []core.Option{core.WithScope(core.ScopeUser)}, steps: []step{
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, payment).by("guest"), want: original(201)},
		{x: post(k1, payment).by("%anonymous"), want: original(201)},
	}},
	{name: "Step5_ScopesSeparateIPs", opts: []core.Option{core.WithScope(core.ScopeIP)}, steps: []step{
		{x: post(k1, payment).from("192.0.2.1"), want: original(201)},
		{x: post(k1, payment).from("192.0.2.2"), want: original(201)},
		{x: post(k1, payment).from("192.0.2.1").by("bob"), want: repeated(201)},
	}},
	{name: "Step5_GlobalScopeShares", opts: []core.Option{core.WithScope(core.ScopeGlobal)}, steps: []step{
		{x: post(k1, payment).by("alice"), want: original(201)},
		{x: post(k1, payment).by("bob"), want: repeated(201)},
	}},
	{name: "Step5_ScopeResolverError500", opts: []core.Option{core.WithScopeResolver(core.ScopeResolverFunc(func(core.Request) (string, error) {
		return "", errors.New("tenant lookup failed")
	}))}, steps: []step{
		{x: post(k1, payment), want: refused(500, core.ProblemScope, core.OutcomeStoreError)},
	}},

	// Step 6, fingerprint.
	{name: "Step6_BodyTooLarge413", opts: []core.Option{core.WithMaxBodyBytes(8)}, steps: []step{
		{x: post(k1, payment), want: refused(413, core.ProblemBodyTooLarge, core.OutcomeInvalid)},
		{x: post(k1, `{"a":1}`), want: original(201)}, // the refusal claimed nothing
	}},
	{name: "Step6_UnreadableBody400", steps: []step{
		{x: func() *fakeExchange { x := post(k1, payment); x.bodyErr = errors.New("connection reset"); return x }(),
			want: refused(400, core.ProblemUnreadableBody, core.OutcomeInvalid)},
	}},
	{name: "Step6_ReorderedJSONReplays", steps: []step{
		{x: post(k1, `{"a":1,"b":{"c":[1,2],"d":"x"}}`), want: original(201)},
		{x: post(k1, `{ "b": {"d":"x","c":[1,2]}, "a": 1 }`), want: repeated(201)},
		{x: post(k1, `{"a":1,"b":{"c":[2,1],"d":"x"}}`), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
	}},
	{name: "Step6_CanonicalQuery", steps: []step{
		{x: post(k1, payment).withQuery("a=1&b=2"), want: original(201)},
		{x: post(k1, payment).withQuery("b=2&a=1"), want: repeated(201)},
		{x: post(k1, payment).withQuery("a=2&b=2"), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
	}},
	{name: "Step6_IgnoredFields", opts: []core.Option{core.WithIgnoredFields("meta.sent_at")}, steps: []step{
		{x: post(k1, `{"amount":1,"meta":{"sent_at":"10:00"}}`), want: original(201)},
		{x: post(k1, `{"amount":1,"meta":{"sent_at":"10:01"}}`), want: repeated(201)},
	}},

	// Step 7, begin.
	{name: "Step7_Replay", steps: []step{
		{x: post(k1, payment).handle(respond(201, `{"id":7}`, "Location", "/items/7")), want: original(201)},
		{x: post(k1, payment).handle(respond(201, `{"id":8}`, "Location", "/items/8")),
			want: repeated(201).and(body(`{"id":7}`)).and(header("Location", "/items/7"))},
	}},
	{name: "Step7_Mismatch422", steps: []step{
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, `{"amount":200,"currency":"EUR"}`), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
		{x: post(k1, payment).withQuery("x=1"), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
	}},
	{name: "Step7_InFlight409RetryAfter", steps: []step{
		{x: post(k1, payment), want: original(201), during: []step{
			// Waits the lock wait (20ms), then gives up.
			{x: post(k1, payment), want: refused(409, core.ProblemInFlight, core.OutcomeConflict).and(retryAfterAtLeast1)},
			// A different request under the key in flight is no conflict.
			{x: post(k1, `{"amount":1}`), want: refused(422, core.ProblemPayloadMismatch, core.OutcomeMismatch)},
		}},
		{x: post(k1, payment), want: repeated(201)},
	}},
	{name: "Step7_InFlightNoWait409", opts: []core.Option{core.WithLockWait(0)}, steps: []step{
		{x: post(k1, payment), want: original(201), during: []step{
			{x: post(k1, payment), want: refused(409, core.ProblemInFlight, core.OutcomeConflict).and(retryAfterAtLeast1)},
		}},
	}},

	// Step 8, run: what is captured and stored.
	{name: "Step8_OuterHeadersNotStored", steps: []step{
		{x: post(k1, payment).withOuter("X-Request-Id", "r1").withOuter("Access-Control-Allow-Origin", "*").
			handle(respond(201, "created", "X-Handler", "h", "Access-Control-Allow-Origin", "https://a.example")),
			want: original(201)},
		// The replay carries what the handler set or changed, and the outer
		// middleware's own headers of this request.
		{x: post(k1, payment).withOuter("X-Request-Id", "r2"),
			want: repeated(201).and(replayLacks("X-Request-Id")).and(header("X-Request-Id", "r2")).
				and(header("X-Handler", "h")).and(header("Access-Control-Allow-Origin", "https://a.example"))},
	}},
	{name: "Step8_StreamedTombstone410", steps: []step{
		{x: post(k1, payment).handle(streams()), want: original(200).and(body("chunk 1\nchunk 2\n"))},
		{x: post(k1, payment), want: refused(410, core.ProblemResultUnavailable, core.OutcomeUnavailable)},
	}},
	{name: "Step8_EventStreamTombstone410", steps: []step{
		// Server-sent events are a stream even when never flushed.
		{x: post(k1, payment).handle(respond(200, "data: 1\n\n", "Content-Type", "text/event-stream")), want: original(200)},
		{x: post(k1, payment), want: refused(410, core.ProblemResultUnavailable, core.OutcomeUnavailable)},
	}},

	// Step 9, complete: stored, released, tombstone or uncertain.
	{name: "Step9_4xxStored", steps: []step{
		{x: post(k1, payment).handle(respond(404, "no such item")), want: original(404)},
		{x: post(k1, payment), want: repeated(404).and(body("no such item"))},
	}},
	{name: "Step9_5xxReleases", steps: []step{
		{x: post(k1, payment).handle(respond(503, "busy")), want: original(503)},
		{x: post(k1, payment).handle(respond(500, "boom")), want: original(500)},
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, payment), want: repeated(201)},
	}},
	{name: "Step9_TransientStatusReleases", steps: []step{
		{x: post(k1, payment).handle(respond(409, "locked elsewhere")), want: original(409)},
		{x: post(k1, payment).handle(respond(429, "slow down")), want: original(429)},
		{x: post(k1, payment), want: original(201)},
	}},
	{name: "Step9_HandlerErrorReleases", steps: []step{
		{x: post(k1, payment).handle(fails(errHandler)),
			want: want{err: errHandler, idem: "Original", ran: true, outcome: core.OutcomeOriginal}},
		{x: post(k1, payment), want: original(201)},
	}},
	{name: "Step9_PanicReleasesAndRepanics", steps: []step{
		{x: post(k1, payment).handle(panics()),
			want: want{panics: true, idem: "Original", ran: true, outcome: core.OutcomeOriginal}},
		{x: post(k1, payment), want: original(201)},
	}},
	{name: "Step9_DeclaredEffectsThen5xxIsUncertain423", steps: []step{
		{x: post(k1, payment).handle(declaresThen(respond(502, "provider down"))), want: original(502)},
		{x: post(k1, payment), want: refused(423, core.ProblemOperationUncertain, core.OutcomeUncertain)},
	}},
	{name: "Step9_DeclaredEffectsThenPanicIsUncertain423", steps: []step{
		{x: post(k1, payment).handle(declaresThen(panics())),
			want: want{panics: true, idem: "Original", ran: true, outcome: core.OutcomeOriginal}},
		{x: post(k1, payment), want: refused(423, core.ProblemOperationUncertain, core.OutcomeUncertain)},
	}},
	{name: "Step9_DeclaredEffectsThenStoredReplays", steps: []step{
		{x: post(k1, payment).handle(declaresThen(respond(201, "charged"))), want: original(201)},
		{x: post(k1, payment), want: repeated(201).and(body("charged"))},
	}},
	{name: "Step9_OversizeTombstone410", opts: []core.Option{core.WithMaxResponseBytes(4)}, steps: []step{
		{x: post(k1, payment), want: original(201).and(body("created"))}, // delivered whole
		{x: post(k1, payment), want: refused(410, core.ProblemResultUnavailable, core.OutcomeUnavailable)},
	}},
	{name: "Step9_ReleaseUnstoredOption", opts: []core.Option{core.WithMaxResponseBytes(4), core.WithReleaseUnstored()}, steps: []step{
		{x: post(k1, payment), want: original(201)},
		{x: post(k1, payment), want: original(201)},
	}},

	// Step 10, headers.
	{name: "Step10_HeadersOriginalRepeated", steps: []step{
		{x: post(k1, payment).handle(respond(201, "created", "Location", "/items/1", "Set-Cookie", "s=1",
			"Date", "Mon, 01 Jan 2024 00:00:00 GMT", "Connection", "close", "Content-Type", "text/plain")),
			want: original(201).and(header("Idempotent-Replayed", "")).and(setHeaderOnce)},
		{x: post(k1, payment), want: repeated(201).and(body("created")).and(header("Location", "/items/1")).
			and(header("Content-Type", "text/plain")).and(replayLacks("Set-Cookie", "Date", "Connection", "Content-Length")).
			and(header("Idempotent-Replayed", ""))},
	}},
	{name: "Step10_ReplayedHeaderOption", opts: []core.Option{core.WithReplayedHeader(true)}, steps: []step{
		{x: post(k1, payment), want: original(201).and(header("Idempotent-Replayed", ""))},
		{x: post(k1, payment), want: repeated(201).and(header("Idempotent-Replayed", "true"))},
	}},
	{name: "Step10_ReplayHeadersAllowlist", opts: []core.Option{core.WithReplayHeaders("Location")}, steps: []step{
		{x: post(k1, payment).handle(respond(201, "created", "Location", "/items/1", "X-Other", "o")), want: original(201)},
		{x: post(k1, payment), want: repeated(201).and(header("Location", "/items/1")).and(replayLacks("X-Other"))},
	}},

	// Step 11, store failure.
	{name: "Step11_StoreDownFailsClosed503", steps: []step{
		{before: storeDown(true), x: post(k1, payment),
			want: refused(503, core.ProblemStoreUnavailable, core.OutcomeStoreError).and(header("Retry-After", "1"))},
		{before: storeDown(false), x: post(k1, payment), want: original(201)},
	}},
	{name: "Step11_FailOpenPasses", opts: []core.Option{core.WithFailOpen(true)}, steps: []step{
		{before: storeDown(true), x: post(k1, payment), want: bypassed(201)},
		{before: storeDown(false), x: post(k1, payment), want: original(201)},
	}},
	{name: "Step11_FailOpenNeverBypassesIntegrity", opts: []core.Option{core.WithFailOpen(true)},
		store: func(s core.Store) core.Store { return coretest.CorruptStore{Store: s} }, steps: []step{
			{x: post(k1, payment), want: refused(503, core.ProblemStoreUnavailable, core.OutcomeStoreError)},
		}},
	{name: "Step11_StoreTimeoutBoundsBegin", opts: []core.Option{core.WithStoreTimeout(20 * time.Millisecond)},
		store: func(s core.Store) core.Store { return coretest.StallingStore{Store: s} }, steps: []step{
			{x: post(k1, payment), want: refused(503, core.ProblemStoreUnavailable, core.OutcomeStoreError)},
		}},

	// Step 12, errors.
	{name: "Step12_ProblemJSON", steps: []step{
		// The runner checks every problem's type, title, status and
		// Cache-Control; this row checks the detail and content type.
		{x: post("", payment), want: refused(400, core.ProblemMissingKey, core.OutcomeMissing).
			and(header("Content-Type", "application/problem+json")).and(func(t *testing.T, x *fakeExchange) {
			if !strings.Contains(string(x.respBody), `"detail":"this endpoint requires an Idempotency-Key header"`) {
				t.Errorf("problem body %s: want a detail naming the header", x.respBody)
			}
		})},
	}},
	{name: "Step12_CustomResponder", opts: []core.Option{core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
		return core.Response{Status: p.Status, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("custom " + string(p.Kind))}, nil
	}))}, steps: []step{
		{x: post("", payment), want: want{status: 400, outcome: core.OutcomeMissing}.and(body("custom missing-key"))},
	}},
	{name: "Step12_ResponderErrorReturned", opts: []core.Option{core.WithErrorResponder(core.ErrorResponderFunc(func(core.Request, *core.Problem) (core.Response, error) {
		return core.Response{}, errRefused
	}))}, steps: []step{
		// Nothing written: the framework's error handler answers.
		{x: post("", payment), want: want{err: errRefused, outcome: core.OutcomeMissing}.measuredAs(400).and(noReply)},
		{x: post(k1, payment), want: original(201)},
	}},
}

// retryAfterAtLeast1 checks a 409's Retry-After (SPEC §3 step 12).
func retryAfterAtLeast1(t *testing.T, x *fakeExchange) {
	t.Helper()
	if v := x.response().Get("Retry-After"); v == "" || v == "0" || strings.HasPrefix(v, "-") {
		t.Errorf("Retry-After %q, want at least 1", v)
	}
}

// setHeaderOnce checks that the Engine set exactly Idempotency-Status
// before the handler ran.
func setHeaderOnce(t *testing.T, x *fakeExchange) {
	t.Helper()
	if len(x.setHeaders) != 1 || x.setHeaders[0] != "Idempotency-Status" {
		t.Errorf("SetHeader calls %v, want [Idempotency-Status]", x.setHeaders)
	}
}

// noReply checks that the Engine wrote nothing.
func noReply(t *testing.T, x *fakeExchange) {
	t.Helper()
	if len(x.replies) != 0 {
		t.Errorf("replied %d times, want none", len(x.replies))
	}
}
