package idemclient_test

import (
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
