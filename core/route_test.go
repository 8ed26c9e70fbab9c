package core_test

import (
	"net/http"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// WithRouteResolver replaces Request.Route for every decision that needs
// the route: a request the framework saw no route for is claimed when the
// resolver names one, a routed request passes through untouched when the
// resolver names none, and the resolved pattern scopes the key and labels
// the measurements.
func TestWithRouteResolver(t *testing.T) {
	const k = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a001"
	rec := &coretest.Recorder{}
	st := memory.New()
	e, err := core.New(core.WithStore(st), core.WithTelemetry(rec), core.WithRouteResolver(func(r core.Request) string {
		if r.Path() == "/items/1" {
			return "/items/{id}"
		}
		return ""
	}))
	if err != nil {
		t.Fatal(err)
	}

	// The framework reports no route (a middleware wrapping a whole mux).
	x := newPost(k, `{"a":1}`, nil).at("", "/items/1")
	if err := e.Serve(x); err != nil {
		t.Fatal(err)
	}
	if x.passes != 0 || x.status != http.StatusCreated || x.respHdr.Get("Idempotency-Status") != "Original" {
		t.Fatalf("unrouted request the resolver routes: passes %d, status %d, %q; want it claimed",
			x.passes, x.status, x.respHdr.Get("Idempotency-Status"))
	}
	sk := core.StoreKey(core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, "/items/{id}", ""), k)
	if _, err := st.Get(t.Context(), sk); err != nil {
		t.Fatalf("no record under the resolved route's scope: %v", err)
	}
	if ms := rec.Measurements(); len(ms) != 1 || ms[0].Route != "/items/{id}" {
		t.Fatalf("measurements %+v, want one labelled /items/{id}", ms)
	}

	// The framework reports a route, the resolver none: untouched.
	x = newPost(k, `{"a":1}`, nil).at("/other/:id", "/other/1")
	if err := e.Serve(x); err != nil {
		t.Fatal(err)
	}
	if x.passes != 1 || x.respHdr.Get("Idempotency-Status") != "" {
		t.Fatalf("routed request the resolver does not route: passes %d, %q; want it passed through",
			x.passes, x.respHdr.Get("Idempotency-Status"))
	}

	// nil restores Request.Route.
	e, err = core.New(core.WithStore(memory.New()), core.WithRouteResolver(func(core.Request) string { return "" }), core.WithRouteResolver(nil))
	if err != nil {
		t.Fatal(err)
	}
	x = newPost(k, `{"a":1}`, nil)
	if err := e.Serve(x); err != nil {
		t.Fatal(err)
	}
	if x.passes != 0 || x.respHdr.Get("Idempotency-Status") != "Original" {
		t.Fatalf("after WithRouteResolver(nil): passes %d, %q; want Request.Route used", x.passes, x.respHdr.Get("Idempotency-Status"))
	}
}
