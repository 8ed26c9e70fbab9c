package idemhttp_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/idemkit/idempotency/core"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	"github.com/idemkit/idempotency/storage/memory"
)

// An invalid option is an error from NewE and a panic from New, at
// construction, never on a request.
func TestInvalidOption(t *testing.T) {
	bad := core.WithMaxKeyLength(-1)
	if _, err := idemhttp.NewE(bad); !errors.Is(err, core.ErrInvalidOption) {
		t.Fatalf("NewE: %v, want ErrInvalidOption", err)
	}
	defer func() {
		if v := recover(); v == nil {
			t.Fatal("New did not panic on an invalid option")
		}
	}()
	idemhttp.New(bad)
}

// Middleware serves an Engine built with core.New, WithRoute included
// (it is an Engine option, not the middleware's).
func TestMiddlewareOwnEngine(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /items/{id}", created)
	e, err := core.New(core.WithStore(memory.New()), idemhttp.WithRoute(idemhttp.MuxRoute(mux)))
	if err != nil {
		t.Fatal(err)
	}
	h := idemhttp.Middleware(e)(mux)
	for _, want := range []string{"Original", "Repeated"} {
		if w := post(h, "/items/1", key); w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != want {
			t.Fatalf("%d %q, want 201 %s", w.Code, w.Header().Get("Idempotency-Status"), want)
		}
	}
	in, err := e.Inspect(t.Context(), core.ScopeString(core.ScopeUserRoute, "", http.MethodPost, "/items/{id}", ""), key)
	if err != nil || in.Record.State != core.StateCompleted {
		t.Fatalf("Engine.Inspect of the key under the route's scope: %+v, %v; want it completed", in, err)
	}
}
