package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// pay runs endpoint e as the idempotency middleware would, under a claim
// of a fresh key on a memory store (see claimed).
func pay(s *Shop, e Endpoint, query, body, user string) *Response {
	r, _ := claimed(newEngine(memory.New()), newKey(), func(ctx context.Context) *Response {
		return handle(ctx, s, e, query, body, user)
	})
	return r
}

func handle(ctx context.Context, s *Shop, e Endpoint, query, body, user string) *Response {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	return s.Handle(ctx, e, &Request{Query: q, Header: http.Header{}, Body: []byte(body), User: user})
}

const testScope = "shop-test"

func newEngine(store core.Store) *core.Engine {
	return core.Must(core.New(core.WithStore(store)))
}

// claimed runs fn under an idempotency claim of key, through Engine.Do,
// which gives fn the context a handler gets from the HTTP middleware: the
// one DeclareEffects needs. A 5xx ends the claim as a failure, as the
// middleware ends a non-cacheable answer. It returns fn's response (nil
// when fn did not run) and Do's error.
func claimed(eng *core.Engine, key string, fn func(ctx context.Context) *Response) (*Response, error) {
	var resp *Response
	_, _, err := eng.Do(context.Background(), testScope, key, core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		resp = fn(ctx)
		if resp.Status >= 500 {
			return nil, fmt.Errorf("status %d", resp.Status)
		}
		return resp.Body, nil
	})
	return resp, err
}

var keys atomic.Int64

func newKey() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", keys.Add(1))
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := sonic.ConfigStd.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", b, err)
	}
	return m
}

func TestPaymentCreated(t *testing.T) {
	s := New()
	r := pay(s, Payments, "", `{"amount":1000,"currency":"EUR"}`, "alice")
	if r.Status != http.StatusCreated {
		t.Fatalf("status %d, body %s", r.Status, r.Body)
	}
	if got, want := string(r.Body), `{"id":"pay_1","amount":1000,"currency":"EUR","user":"alice"}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if got := r.Header.Get("Location"); got != "/payments/pay_1" {
		t.Errorf("Location %q", got)
	}
	if got := r.Header.Get("Set-Cookie"); !strings.HasPrefix(got, "receipt=pay_1") {
		t.Errorf("Set-Cookie %q", got)
	}
	if got := r.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("Content-Type %q", got)
	}

	r = pay(s, Payments, "", `{"currency":"USD","amount":5}`, "")
	if got := decode(t, r.Body); got["id"] != "pay_2" || got["user"] != "guest" {
		t.Errorf("second payment %s", r.Body)
	}
	r = pay(s, Refunds, "", `{"amount":5,"currency":"USD"}`, "bob")
	if got := decode(t, r.Body); r.Status != 201 || got["id"] != "ref_1" || r.Header.Get("Location") != "/refunds/ref_1" {
		t.Errorf("refund %d %s %v", r.Status, r.Body, r.Header)
	}
	if got := s.Snapshot().Executions; got != (Counts{Payments: 2, Refunds: 1}) {
		t.Errorf("executions %+v", got)
	}
}

func TestPaymentValidation(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"zero amount", `{"amount":0,"currency":"EUR"}`, "positive"},
		{"negative amount", `{"amount":-5,"currency":"EUR"}`, "positive"},
		{"missing amount", `{"currency":"EUR"}`, "required"},
		{"null body", `null`, "required"},
		{"fractional amount", `{"amount":1.5,"currency":"EUR"}`, "JSON object"},
		{"malformed", `{"amount":`, "JSON object"},
		{"empty", ``, "JSON object"},
		{"array", `[1]`, "JSON object"},
		{"bad currency", `{"amount":1,"currency":"euro"}`, "currency"},
		{"missing currency", `{"amount":1}`, "currency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			r := pay(s, Payments, "", tc.body, "")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, body %s", r.Status, r.Body)
			}
			msg, _ := decode(t, r.Body)["error"].(string)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to mention %q", msg, tc.want)
			}
			if r.Header.Get("Set-Cookie") != "" || r.Header.Get("Location") != "" {
				t.Errorf("error response carries resource headers: %v", r.Header)
			}
			if n := s.Executions(Payments); n != 1 {
				t.Errorf("a rejected request is still an execution: got %d", n)
			}
		})
	}
}

func TestSimulations(t *testing.T) {
	s := New()
	body := `{"amount":1,"currency":"EUR"}`

	start := time.Now()
	if r := pay(s, Payments, "delay=20ms", body, ""); r.Status != 201 || time.Since(start) < 20*time.Millisecond {
		t.Errorf("delay: status %d after %v", r.Status, time.Since(start))
	}
	for _, q := range []string{"delay=soon", "delay=-1s", "delay=1h", "fail=200", "fail=x", "panic=maybe"} {
		if r := pay(s, Payments, q, body, ""); r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, r.Status)
		}
	}
	for q, want := range map[string]int{"fail=500": 500, "fail=503": 503, "panic=0": 201} {
		if r := pay(s, Payments, q, body, ""); r.Status != want {
			t.Errorf("%s: status %d, want %d", q, r.Status, want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := s.Handle(ctx, Votes, &Request{Query: url.Values{"delay": {"5s"}}, Header: http.Header{}})
	if r.Status != http.StatusServiceUnavailable {
		t.Errorf("cancelled delay: status %d, want 503 (not cached, so a retry runs)", r.Status)
	}

	before := s.Executions(Payments)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic=1 did not panic")
			}
		}()
		pay(s, Payments, "panic=1", body, "")
	}()
	if got := s.Executions(Payments); got != before+1 {
		t.Errorf("a panicking run is not counted: %d, want %d", got, before+1)
	}
}

func TestVotesWebhooksStats(t *testing.T) {
	s := New()
	if r := pay(s, Votes, "", "", ""); r.Status != 201 || string(r.Body) != `{"id":"vote_1"}` {
		t.Errorf("vote: %d %s", r.Status, r.Body)
	}
	r := s.Handle(context.Background(), Webhooks, &Request{Header: http.Header{http.CanonicalHeaderKey(WebhookHeader): {"evt_42"}}})
	if r.Status != 200 || string(r.Body) != `{"received":"evt_42"}` {
		t.Errorf("webhook: %d %s", r.Status, r.Body)
	}
	r = s.Handle(context.Background(), Stats, &Request{})
	want := `{"executions":{"payments":0,"refunds":0,"votes":1,"webhooks":1,"exports":0}}`
	if r.Status != 200 || string(r.Body) != want {
		t.Errorf("stats: %d %s, want %s", r.Status, r.Body, want)
	}
	if r := s.Handle(context.Background(), Endpoint(42), &Request{}); r.Status != 404 {
		t.Errorf("unknown endpoint: %d", r.Status)
	}
}

func TestConcurrentExecutions(t *testing.T) {
	s := New()
	const n = 64
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := pay(s, Payments, "", `{"amount":1,"currency":"EUR"}`, "")
			ids[i], _ = decode(t, r.Body)["id"].(string)
		})
	}
	wg.Wait()
	if got := s.Executions(Payments); got != n {
		t.Errorf("executions %d, want %d", got, n)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("id %s handed out twice", id)
		}
		seen[id] = true
	}
}

func TestReadBody(t *testing.T) {
	if b, err := ReadBody(strings.NewReader("abc")); err != nil || string(b) != "abc" {
		t.Errorf("ReadBody = %q, %v", b, err)
	}
	if b, err := ReadBody(nil); err != nil || b != nil {
		t.Errorf("ReadBody(nil) = %q, %v", b, err)
	}
	if _, err := ReadBody(strings.NewReader(strings.Repeat("x", MaxBodyBytes+1))); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("oversized body: %v", err)
	}
	s := New()
	big := strings.Repeat("x", MaxBodyBytes+1)
	if r := pay(s, Payments, "", big, ""); r.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", r.Status)
	}
}

// Every route's options must be accepted by the engine: a typo in a tag
// would otherwise only show when a server starts.
func TestOptionsBuildEngines(t *testing.T) {
	store := memory.New()
	for _, rt := range Routes() {
		if !rt.Idempotent() {
			continue
		}
		if _, err := core.New(Options(store, rt.Endpoint, core.WithLockWait(time.Second))...); err != nil {
			t.Errorf("%s %s: %v", rt.Method, rt.Path, err)
		}
	}
}

func TestWebhookOptionsAcceptTokens(t *testing.T) {
	e, err := core.New(Options(memory.New(), Webhooks)...)
	if err != nil {
		t.Fatal(err)
	}
	// Engine.Do has the HTTP semantics without HTTP: a second delivery of
	// one id replays the first result.
	runs := 0
	fn := func(context.Context) ([]byte, error) { runs++; return []byte("done"), nil }
	for range 2 {
		if _, _, err := e.Do(context.Background(), "webhooks", "evt_1", core.Fingerprint{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("webhook handler ran %d times, want 1", runs)
	}
}

func TestEndpointString(t *testing.T) {
	for e, want := range map[Endpoint]string{Payments: "payments", Refunds: "refunds", Votes: "votes", Webhooks: "webhooks", Exports: "exports", Stats: "stats", Endpoint(9): "endpoint(9)"} {
		if got := e.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(e), got, want)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewRequestID()
		if len(id) != len("req_")+26 || !strings.HasPrefix(id, "req_") {
			t.Fatalf("request id %q, want req_ and 26 characters", id)
		}
		if seen[id] {
			t.Fatalf("request id %q handed out twice", id)
		}
		seen[id] = true
	}
}

func TestExport(t *testing.T) {
	s := New()
	r := pay(s, Exports, "", `{}`, "alice")
	if r.Status != http.StatusOK || r.Body != nil {
		t.Fatalf("export: %d, body %q", r.Status, r.Body)
	}
	if got := r.Header.Get("Content-Type"); got != ExportContentType {
		t.Errorf("Content-Type %q", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q", got)
	}
	if len(r.Stream) != ExportSteps {
		t.Fatalf("%d events, want %d", len(r.Stream), ExportSteps)
	}
	for i, ev := range r.Stream {
		want := fmt.Sprintf("id: %d\nevent: progress\ndata: {\"export\":\"exp_1\",\"step\":%d,\"of\":3}\n\n", i+1, i+1)
		if string(ev) != want {
			t.Errorf("event %d: %q, want %q", i, ev, want)
		}
	}
	if r := pay(s, Exports, "", `{"format":"csv"}`, ""); r.Status != 200 || !strings.Contains(string(r.Stream[0]), `"exp_2"`) {
		t.Errorf("second export: %d %q", r.Status, r.Stream)
	}
	for _, body := range []string{"", "{", "csv"} {
		r := pay(s, Exports, "", body, "")
		if r.Status != http.StatusBadRequest || r.Stream != nil {
			t.Errorf("body %q: %d, stream %q", body, r.Status, r.Stream)
		}
	}
	if r := pay(s, Exports, "fail=503", `{}`, ""); r.Status != 503 || r.Stream != nil {
		t.Errorf("fail=503: %d", r.Status)
	}
	if got := s.Snapshot().Executions; got != (Counts{Exports: 6}) {
		t.Errorf("executions %+v, want 6 exports (2 streamed, 3 refused, 1 failed)", got)
	}
}

// Payments and refunds declare their effects just before they charge,
// and refuse to charge (503, nothing created) when the declaration fails.
// effects=1 declares them before the other switches, so that what fails
// afterwards fails after the charge: the key is then uncertain, while the
// same failure without it releases the key.
func TestEffects(t *testing.T) {
	const body = `{"amount":1,"currency":"EUR"}`
	inspect := func(t *testing.T, eng *core.Engine, key string) string {
		t.Helper()
		in, err := eng.Inspect(context.Background(), testScope, key)
		if errors.Is(err, core.ErrNotFound) {
			return "released"
		}
		if err != nil {
			t.Fatal(err)
		}
		return in.State.String()
	}

	t.Run("declared before the charge", func(t *testing.T) {
		s := New()
		for _, e := range []Endpoint{Payments, Refunds} {
			key := newKey()
			store := &marks{Store: memory.New()}
			eng := newEngine(store)
			r, err := claimed(eng, key, func(ctx context.Context) *Response {
				return handle(ctx, s, e, "", body, "")
			})
			if err != nil || r.Status != http.StatusCreated {
				t.Fatalf("%v: %v, %d %s", e, err, r.Status, r.Body)
			}
			if n := store.commits.Load(); n != 1 {
				t.Errorf("%v: %d effects declared to the store, want 1", e, n)
			}
			if got := inspect(t, eng, key); got != "completed" {
				t.Errorf("%v: record %s, want completed", e, got)
			}
		}
	})

	t.Run("no claim", func(t *testing.T) {
		s := New()
		for _, tc := range []struct {
			e     Endpoint
			query string
		}{{Payments, ""}, {Refunds, ""}, {Votes, "effects=1"}, {Payments, "effects=1&fail=500"}} {
			r := handle(context.Background(), s, tc.e, tc.query, body, "")
			if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "not charged") {
				t.Errorf("%v?%s without a claim: %d %s, want 503", tc.e, tc.query, r.Status, r.Body)
			}
		}
		// Nothing was created: the next payment is still pay_1.
		if r := pay(s, Payments, "", body, ""); decode(t, r.Body)["id"] != "pay_1" {
			t.Errorf("after the refusals: %d %s, want pay_1", r.Status, r.Body)
		}
	})

	t.Run("store refuses the mark", func(t *testing.T) {
		s := New()
		key := newKey()
		store := &marks{Store: memory.New(), fail: true}
		eng := newEngine(store)
		r, _ := claimed(eng, key, func(ctx context.Context) *Response {
			return handle(ctx, s, Payments, "", body, "")
		})
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "retry later") {
			t.Errorf("%d %s, want 503", r.Status, r.Body)
		}
		if got := inspect(t, eng, key); got != "released" {
			t.Errorf("record %s, want released: nothing was charged", got)
		}
		if r := pay(s, Payments, "", body, ""); decode(t, r.Body)["id"] != "pay_1" {
			t.Errorf("after the refusal: %d %s, want pay_1", r.Status, r.Body)
		}
	})

	t.Run("failures", func(t *testing.T) {
		for _, tc := range []struct{ query, want string }{
			{"fail=500", "released"},
			{"panic=1", "released"},
			{"effects=0&fail=500", "released"},
			{"effects=1&fail=500", "uncertain"},
			{"effects=true&fail=503", "uncertain"},
			{"effects=1&panic=1", "uncertain"},
			{"effects=1", "completed"},
			{"effects=1&delay=1ms", "completed"},
		} {
			s := New()
			key := newKey()
			eng := newEngine(memory.New())
			func() {
				defer func() { _ = recover() }() // panic=1
				_, _ = claimed(eng, key, func(ctx context.Context) *Response {
					return handle(ctx, s, Payments, tc.query, body, "")
				})
			}()
			if got := inspect(t, eng, key); got != tc.want {
				t.Errorf("%s: record %s, want %s", tc.query, got, tc.want)
			}
		}
	})

	if r := pay(New(), Payments, "effects=maybe", body, ""); r.Status != http.StatusBadRequest {
		t.Errorf("effects=maybe: %d, want 400", r.Status)
	}
}

// marks counts the effects declared to a store, or, with fail, refuses
// to record them as an unreachable store would.
type marks struct {
	core.Store
	fail    bool
	commits atomic.Int64
}

func (m *marks) Commit(ctx context.Context, key string, token uint64, sig []byte) error {
	m.commits.Add(1)
	if m.fail {
		return fmt.Errorf("%w: test outage", core.ErrStoreUnavailable)
	}
	return m.Store.Commit(ctx, key, token, sig)
}
