package idemclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	idemclient "github.com/idemkit/idempotency/client"
)

// A server that fails twice with 503 before it answers: the client sends
// the same key every time, so the server can recognise the retries.
func Example() {
	var (
		mu   sync.Mutex
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n <= 2 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, `{"id":"pay_1"}`)
	}))
	defer srv.Close()

	client := &http.Client{Transport: idemclient.New(nil,
		idemclient.WithBackoff(time.Millisecond, 50*time.Millisecond))}
	resp, err := client.Post(srv.URL+"/payments", "application/json",
		strings.NewReader(`{"amount":100,"currency":"EUR"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	mu.Lock()
	defer mu.Unlock()
	fmt.Println("status:", resp.Status)
	fmt.Println("attempts:", len(keys))
	fmt.Println("same key every time:", keys[0] == keys[1] && keys[1] == keys[2])
	fmt.Println("key is a UUID:", len(keys[0]) == 36 && keys[0][14] == '4')
	// Output:
	// status: 201 Created
	// attempts: 3
	// same key every time: true
	// key is a UUID: true
}

// claimKey stands in, in this example, for the idempotency claim that
// core.DerivedKey reads from a handler's context.
type claimKey struct{}

// derivedKey stands in for core.DerivedKey(ctx, "psp"): a key that is the
// same on every run of the operation, or an error outside of one.
func derivedKey(ctx context.Context) (string, error) {
	k, ok := ctx.Value(claimKey{}).(string)
	if !ok {
		return "", errors.New("no idempotency claim in context")
	}
	return k, nil
}

// A handler that calls a payment provider passes the provider the key it
// derives from its own claim, so that every run of the operation, retries
// and re-runs alike, sends the provider the same key. A request outside of
// a claim fails before anything is sent.
func ExampleWithKeyFunc() {
	var (
		mu   sync.Mutex
		keys []string
	)
	psp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer psp.Close()

	// In a server: idemclient.WithKeyFunc(func(ctx context.Context) (string, error) {
	//	return core.DerivedKey(ctx, "psp")
	// })
	client := &http.Client{Transport: idemclient.New(nil, idemclient.WithKeyFunc(derivedKey))}

	// Inside the handler, ctx carries the claim.
	ctx := context.WithValue(context.Background(), claimKey{}, "0f8c6d3a-2b7e-5c41-9d0a-6e3b1f2a4c57")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, psp.URL+"/charges",
		strings.NewReader(`{"amount":100,"currency":"EUR"}`))
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("status:", resp.Status)

	// Outside of a claim, nothing is sent.
	req, _ = http.NewRequest(http.MethodPost, psp.URL+"/charges",
		strings.NewReader(`{"amount":100,"currency":"EUR"}`))
	if _, err := client.Do(req); err != nil {
		fmt.Println("error:", errors.Unwrap(err))
	}

	mu.Lock()
	defer mu.Unlock()
	fmt.Println("attempts:", len(keys))
	fmt.Println("keys:", keys)
	// Output:
	// status: 201 Created
	// error: idemclient: no idempotency key, request not sent: no idempotency claim in context
	// attempts: 2
	// keys: [0f8c6d3a-2b7e-5c41-9d0a-6e3b1f2a4c57 0f8c6d3a-2b7e-5c41-9d0a-6e3b1f2a4c57]
}
