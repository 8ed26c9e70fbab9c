package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
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

// spyStore records the lease and TTL of every Begin and Renew.
type spyStore struct {
	core.Store
	mu     sync.Mutex
	begins []spyCall
	renews []time.Duration
	began  chan struct{} // receives after each Begin
}

type spyCall struct {
	key        string
	lease, ttl time.Duration
}

func newSpyStore() *spyStore {
	return &spyStore{Store: memory.New(), began: make(chan struct{}, 100)}
}

func (s *spyStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	s.mu.Lock()
	s.begins = append(s.begins, spyCall{key, a.Lease, a.TTL})
	s.mu.Unlock()
	res, err := s.Store.Begin(ctx, key, a)
	s.began <- struct{}{} // after the store has decided
	return res, err
}

func (s *spyStore) Renew(ctx context.Context, key string, token uint64, lease time.Duration) error {
	s.mu.Lock()
	s.renews = append(s.renews, lease)
	s.mu.Unlock()
	return s.Store.Renew(ctx, key, token, lease)
}

func (s *spyStore) calls() ([]spyCall, []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]spyCall(nil), s.begins...), append([]time.Duration(nil), s.renews...)
}

func post(h http.Handler, target, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(`{"amount":1,"currency":"EUR"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// Env.Options carries -lease and -lock-wait to every idempotent route's
// engine: with a 100 ms lock wait, a duplicate of a payment that runs for
// 500 ms gets 409 while the original still runs, and the store sees the
// 1 s lease in every Begin and Renew. Routes keep their own settings:
// votes' tag ttl=2s.
func TestEnvOptionsLeaseAndLockWait(t *testing.T) {
	gin.SetMode(gin.TestMode)
	lease, wait := time.Second, 100*time.Millisecond
	spy := newSpyStore()
	env, err := NewEnv(Config{Lease: &lease, LockWait: &wait}, quiet, spy)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ginapp.New(spy, env.Shop, env.Options()...)
	if err != nil {
		t.Fatal(err)
	}

	const key = "5f0c8a9e-1b2c-4d3e-8f4a-5b6c7d8e9f00"
	original := make(chan *httptest.ResponseRecorder, 1)
	go func() { original <- post(r, "/payments?delay=500ms", key) }()
	<-spy.began // the original has claimed the key
	dup := post(r, "/payments?delay=500ms", key)
	select {
	case w := <-original:
		t.Fatalf("the original (%d) finished before its duplicate: the duplicate waited for it", w.Code)
	default:
	}
	if dup.Code != http.StatusConflict || dup.Header().Get("Retry-After") == "" {
		t.Errorf("duplicate: %d Retry-After %q %s, want 409 with Retry-After", dup.Code, dup.Header().Get("Retry-After"), dup.Body)
	}
	if w := <-original; w.Code != http.StatusCreated {
		t.Errorf("original: %d %s", w.Code, w.Body)
	}
	if again := post(r, "/payments?delay=500ms", key); again.Code != http.StatusCreated || again.Header().Get("Idempotency-Status") != "Repeated" {
		t.Errorf("retry after completion: %d %q", again.Code, again.Header().Get("Idempotency-Status"))
	}
	if n := env.Shop.Snapshot().Executions.Payments; n != 1 {
		t.Errorf("the payment ran %d times, want 1", n)
	}

	if w := post(r, "/votes", key); w.Code != http.StatusCreated {
		t.Errorf("vote: %d %s", w.Code, w.Body)
	}
	begins, renews := spy.calls()
	for _, c := range begins {
		if c.lease != lease {
			t.Errorf("Begin %s with lease %v, want %v", c.key, c.lease, lease)
		}
	}
	if len(renews) == 0 {
		t.Error("a 500ms handler under a 1s lease was never renewed (every lease/3)")
	}
	for _, l := range renews {
		if l != lease {
			t.Errorf("Renew with lease %v, want %v", l, lease)
		}
	}
	if last := begins[len(begins)-1]; !strings.Contains(last.key, "/votes") || last.ttl != 2*time.Second {
		t.Errorf("vote's Begin %+v, want the route's ttl=2s", last)
	}
	if first := begins[0]; first.ttl != core.DefaultTTL {
		t.Errorf("payment's Begin %+v, want the default TTL", first)
	}
}

// Without -lease and -lock-wait, the engine's defaults apply.
func TestEnvOptionsDefaults(t *testing.T) {
	gin.SetMode(gin.TestMode)
	spy := newSpyStore()
	env, err := NewEnv(Config{}, quiet, spy)
	if err != nil {
		t.Fatal(err)
	}
	if len(env.Options()) != 1 {
		t.Errorf("options %d, want only the telemetry", len(env.Options()))
	}
	r, err := ginapp.New(spy, env.Shop, env.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	if w := post(r, "/payments", "5f0c8a9e-1b2c-4d3e-8f4a-5b6c7d8e9f01"); w.Code != http.StatusCreated {
		t.Fatalf("payment: %d %s", w.Code, w.Body)
	}
	if begins, _ := spy.calls(); len(begins) != 1 || begins[0].lease != core.DefaultLease {
		t.Errorf("Begin calls %+v, want one with lease %v", begins, core.DefaultLease)
	}
}

// -derive-secret reaches every route's engine: payments show their
// provider key.
func TestEnvOptionsDeriveSecret(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, secret := range []string{"", "0123456789abcdef"} {
		env, err := NewEnv(Config{DeriveSecret: secret}, quiet, memory.New())
		if err != nil {
			t.Fatal(err)
		}
		r, err := ginapp.New(env.Store, env.Shop, env.Options()...)
		if err != nil {
			t.Fatal(err)
		}
		w := post(r, "/payments", "5f0c8a9e-1b2c-4d3e-8f4a-5b6c7d8e9f00")
		if got := w.Header().Get(shop.ProviderKeyHeader); w.Code != http.StatusCreated || (got != "") != (secret != "") {
			t.Errorf("secret %q: %d, provider key %q", secret, w.Code, got)
		}
	}
}

// TestEnvOptionsSigningKey: a server with -signing-key signs what it
// stores: another server on the same store with another key refuses the
// record (core.ErrRecordRejected), one with the same ring replays it,
// and so does one whose ring lists the key second (rotation).
func TestEnvOptionsSigningKey(t *testing.T) {
	store := memory.New()
	a := "a:" + strings.Repeat("11", 32)
	b := "b:" + strings.Repeat("22", 32)
	engine := func(keys string, encrypt bool) *core.Engine {
		t.Helper()
		env, err := NewEnv(Config{SigningKeys: keys, Encrypt: encrypt}, quiet, store)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := core.New(append(env.Options(), core.WithStore(store))...)
		if err != nil {
			t.Fatal(err)
		}
		return eng
	}
	ctx := context.Background()
	run := func(context.Context) ([]byte, error) { return []byte("charged"), nil }
	for i, encrypt := range []bool{false, true} {
		key := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		if res, replayed, err := engine(a, encrypt).Do(ctx, "s", key, core.Fingerprint{}, run); err != nil || replayed || string(res) != "charged" {
			t.Fatalf("encrypt=%v: first Do: %q %v %v", encrypt, res, replayed, err)
		}
		if _, _, err := engine(b, encrypt).Do(ctx, "s", key, core.Fingerprint{}, run); !errors.Is(err, core.ErrRecordRejected) {
			t.Errorf("encrypt=%v: another key: %v, want ErrRecordRejected", encrypt, err)
		}
		for _, ring := range []string{a, b + "," + a} {
			if res, replayed, err := engine(ring, encrypt).Do(ctx, "s", key, core.Fingerprint{}, run); err != nil || !replayed || string(res) != "charged" {
				t.Errorf("encrypt=%v, ring %.1s…: %q %v %v, want the replay", encrypt, ring, res, replayed, err)
			}
		}
	}
	if _, err := NewEnv(Config{SigningKeys: "k1:00"}, quiet, store); err == nil {
		t.Error("NewEnv accepted a 1-byte signing key")
	}
}
