package coretest

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// Harness adapts the adapter suite to one framework.
type Harness struct {
	// Start serves app over HTTP on a loopback port and returns the base
	// URL; it registers the server's shutdown with t.Cleanup. The router
	// must have, in this order:
	//
	//   - the framework's panic recovery;
	//   - an outer middleware setting the headers of OuterHeaders(the
	//     request's Origin header) on the response, then running the chain;
	//   - a user middleware storing the X-User-ID request header, when
	//     present, under the context key "user" (c.Set / c.Locals);
	//   - when setup.Outer is not nil, a global idempotency middleware
	//     built from setup.Outer;
	//   - the idempotency middleware built from setup.Options, mounted as
	//     setup.Mount says: on each route (MountRoute), for the whole
	//     router (MountGlobal: r.Use / e.Use / app.Use), or on a group
	//     at the root that holds the routes (MountGroup);
	//   - routes GET, POST, PUT, PATCH and DELETE /items/:id and
	//     /other/:id (in the framework's syntax, see Pattern), each
	//     with a handler that reads the body with the
	//     framework's API, calls app.Exec (Route "items" or "other") and
	//     writes the Output with the framework's API (see Output).
	//
	// Middlewares are built with the adapter's error-returning
	// constructor; an error fails the test.
	Start func(t *testing.T, app *App, setup Setup) string
	// HandlerErrors is true when the harness can fail a handler with the
	// framework's error mechanism (Output.Err).
	HandlerErrors bool
	// Pattern returns the route pattern the framework reports for the
	// routes Start registers, route being "items" or "other": the suite
	// checks it in scopes, events and measurements. nil means
	// "/"+route+"/:id" (Gin, Echo, Fiber); net/http, chi and gorilla/mux
	// report "/"+route+"/{id}".
	Pattern func(route string) string
	// Store returns a fresh, empty store for one test, registering its
	// cleanup with t (a case may call it more than once): every case then
	// runs on it, wrapped where the case injects faults, instead of on a
	// memory store. nil means storage/memory. Cases reach the store only
	// through the core.Store contract (and the Engine's optional
	// interfaces), so a store that passes TestStore may be given.
	Store func(t *testing.T) core.Store
	// Tx returns a fresh, empty transactional backend for one test of the
	// transactional cases (Step9_Tx...). nil means the in-memory one
	// (NewTxStore on a memory store).
	Tx func(t *testing.T) TxBackend
}

// pattern returns the route pattern h's framework reports for route.
func (h Harness) pattern(route string) string {
	if h.Pattern != nil {
		return h.Pattern(route)
	}
	return "/" + route + "/:id"
}

// Mount says where the idempotency middleware is registered.
type Mount int

// Mounts of the idempotency middleware under test.
const (
	MountRoute  Mount = iota // route-level, on each route
	MountGlobal              // for the whole router
	MountGroup               // on a group holding the routes
)

// Setup is the middleware configuration of one served app.
type Setup struct {
	Options []core.Option
	Mount   Mount
	Outer   []core.Option
}

// TestAdapter runs the adapter conformance suite: every step of the HTTP
// behaviour contract, through a real HTTP server of the framework.
func TestAdapter(t *testing.T, h Harness) {
	for _, tc := range adapterCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needsErrors && !h.HandlerErrors {
				t.Skip("framework handlers do not return errors")
			}
			tc.run(t, &env{t: t, h: h})
		})
	}
}

type adapterCase struct {
	name        string
	needsErrors bool
	run         func(t *testing.T, e *env)
}

// env is one test's server, app and store.
type env struct {
	t     *testing.T
	h     Harness
	app   *App
	base  string
	store core.Store
	tx    TxBackend // the App's transactions (tx=1); nil: the in-memory fake
}

// newStore returns a fresh store of the harness (Harness.Store), by
// default a memory store.
func (e *env) newStore() core.Store {
	if e.h.Store != nil {
		return e.h.Store(e.t)
	}
	return memory.New()
}

// start serves a fresh app on a fresh store of the harness; opts follow
// the suite defaults (a user resolver reading "user").
func (e *env) start(opts ...core.Option) *env {
	return e.startStore(e.newStore(), opts...)
}

func (e *env) startStore(st core.Store, opts ...core.Option) *env {
	return e.startMounted(MountRoute, st, opts...)
}

func (e *env) startMounted(m Mount, st core.Store, opts ...core.Option) *env {
	e.app = NewApp()
	e.app.tx = e.tx
	e.store = st
	all := append([]core.Option{core.WithStore(st), core.WithUserKey("user")}, opts...)
	e.base = e.h.Start(e.t, e.app, Setup{Options: all, Mount: m})
	// Cleanups run last-in first-out: idle keep-alive connections close
	// before the server shuts down, so no server waits on them.
	e.t.Cleanup(client.CloseIdleConnections)
	return e
}

func (e *env) startNested(outer, inner []core.Option) *env {
	e.app = NewApp()
	st := e.newStore()
	e.store = st
	e.base = e.h.Start(e.t, e.app, Setup{
		Outer:   append([]core.Option{core.WithStore(st), core.WithUserKey("user")}, outer...),
		Options: append([]core.Option{core.WithStore(st), core.WithUserKey("user")}, inner...),
	})
	e.t.Cleanup(client.CloseIdleConnections)
	return e
}

// Reply is a response as the client saw it.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// req describes one request.
type req struct {
	method  string
	path    string
	key     string // "" sends no Idempotency-Key
	body    string
	ctype   string
	user    string
	headers [][2]string
}

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 600, MaxConnsPerHost: 0}}

func (e *env) do(r req) Reply {
	e.t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	if r.path == "" {
		r.path = "/items/1"
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr, err := http.NewRequest(r.method, e.base+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.key != "" {
		hr.Header.Set("Idempotency-Key", r.key)
	}
	if r.body != "" {
		ct := r.ctype
		if ct == "" {
			ct = "application/json"
		}
		hr.Header.Set("Content-Type", ct)
	}
	if r.user != "" {
		hr.Header.Set("X-User-ID", r.user)
	}
	for _, h := range r.headers {
		hr.Header.Add(h[0], h[1])
	}
	resp, err := client.Do(hr)
	if err != nil {
		e.t.Errorf("%s %s: %v", r.method, r.path, err)
		return Reply{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Errorf("reading body: %v", err)
	}
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

const (
	k1 = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a001"
	k2 = "6F1D1C5E-55B5-4B9E-9A63-7CB3C1F0A002"
)

const payment = `{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]}}`

func wantStatus(t *testing.T, r Reply, status int, idem string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if got := r.Header.Get("Idempotency-Status"); got != idem {
		t.Fatalf("Idempotency-Status = %q, want %q", got, idem)
	}
}

func wantProblem(t *testing.T, r Reply, status int, kind core.ProblemKind) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d; body %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json", ct)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", cc)
	}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := sonic.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem body %q: %v", r.Body, err)
	}
	if p.Type != core.ProblemTypeBase+string(kind) || p.Status != status || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem = %+v, want type %s and status %d with title and detail", p, kind, status)
	}
}

func (e *env) wantCount(route string, n int) {
	e.t.Helper()
	if got := e.app.Count(route); got != n {
		e.t.Fatalf("%s ran %d times, want %d", route, got, n)
	}
}

func field(t *testing.T, body []byte, name string) string {
	t.Helper()
	var m map[string]any
	if err := sonic.Unmarshal(bytes.TrimSpace(body), &m); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	s, _ := m[name].(string)
	return s
}

// parallel runs n requests at once and returns their replies.
func (e *env) parallel(n int, r req) []Reply {
	out := make([]Reply, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i] = e.do(r)
		}(i)
	}
	close(start)
	wg.Wait()
	return out
}
