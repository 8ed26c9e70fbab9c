package idemhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/idemkit/idempotency/core"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	"github.com/idemkit/idempotency/storage/memory"
)

// On a route: http.ServeMux has matched "POST /charges" when the
// middleware runs.
func Example() {
	charges := 0
	mux := http.NewServeMux()
	mux.Handle("POST /charges", idemhttp.New(core.WithStore(memory.New()))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		charges++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"charge":%d}`, charges)
	})))

	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":100}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("Idempotency-Status"), w.Body.String())
	}
	fmt.Println("charges:", charges)
	// Output:
	// 201 Original {"charge":1}
	// 201 Repeated {"charge":1}
	// charges: 1
}

// Around a whole mux, the middleware runs before the mux matched: MuxRoute
// asks the mux for the route. What the mux answers itself (404, 405,
// redirects) passes through untouched.
func ExampleMuxRoute() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders/{id}/refunds", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	srv := idemhttp.New(core.WithStore(memory.New()), idemhttp.WithRoute(idemhttp.MuxRoute(mux)))(mux)

	for _, path := range []string{"/orders/7/refunds", "/orders/7/refunds", "/nowhere"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "0b6f5c8e-2d1a-4c43-9a0e-3f6f7d0c9b22")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		fmt.Printf("%s %d %q\n", path, w.Code, w.Header().Get("Idempotency-Status"))
	}
	// Output:
	// /orders/7/refunds 202 "Original"
	// /orders/7/refunds 202 "Repeated"
	// /nowhere 404 ""
}

// An option tag per route: the key is optional on /votes.
func ExampleNew_tag() {
	mux := http.NewServeMux()
	mux.Handle("POST /votes", idemhttp.New(core.WithStore(memory.New()), core.Tag("optional,ttl=60s,scope=ip"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/votes", nil)) // no key: optional
	fmt.Println(w.Code, w.Header().Get("Idempotency-Status") == "")
	// Output: 204 true
}

type userKey struct{}

// WithUserGetter reads the user an auth middleware put in the request's
// context under its own key type; keys then never cross users.
func ExampleWithUserGetter() {
	mw := idemhttp.New(core.WithStore(memory.New()), idemhttp.WithUserGetter(func(r *http.Request) string {
		u, _ := r.Context().Value(userKey{}).(string)
		return u
	}))
	runs := 0
	mux := http.NewServeMux()
	mux.Handle("POST /transfers", mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		w.WriteHeader(http.StatusCreated)
	})))
	auth := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), userKey{}, r.Header.Get("X-User"))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	srv := auth(mux)
	for _, user := range []string{"alice", "bob", "alice"} {
		req := httptest.NewRequest(http.MethodPost, "/transfers", strings.NewReader(`{}`))
		req.Header.Set("X-User", user)
		req.Header.Set("Idempotency-Key", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		fmt.Println(user, w.Header().Get("Idempotency-Status"))
	}
	fmt.Println("runs:", runs)
	// Output:
	// alice Original
	// bob Original
	// alice Repeated
	// runs: 2
}
