package shop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

func pay(s *Shop, e Endpoint, query, body, user string) *Response {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	return s.Handle(context.Background(), e, &Request{Query: q, Header: http.Header{}, Body: []byte(body), User: user})
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
