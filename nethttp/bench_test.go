package idemhttp_test

import (
	"net/http"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemhttp "github.com/idemkit/idempotency/nethttp"
	"github.com/idemkit/idempotency/storage/memory"
)

// BenchmarkNetHTTP measures idemhttp over a bare net/http handler on an
// http.ServeMux, the middleware on the route (see coretest.BenchmarkHTTP
// for what every iteration checks).
func BenchmarkNetHTTP(b *testing.B) {
	coretest.BenchmarkHTTP(b, func(b *testing.B, idempotent bool, ran func()) http.Handler {
		var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran()
			w.Header().Set("Location", coretest.BenchLocation)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(coretest.BenchBody))
		})
		mux := http.NewServeMux()
		if idempotent {
			mw, err := idemhttp.NewE(core.WithStore(memory.New()))
			if err != nil {
				b.Fatal(err)
			}
			handler = mw(handler)
		}
		mux.Handle("POST /pay", handler)
		return mux
	})
}

// BenchmarkNetHTTPMuxRoute is BenchmarkNetHTTP with the middleware around
// the whole mux, which MuxRoute asks for the route on every request.
func BenchmarkNetHTTPMuxRoute(b *testing.B) {
	coretest.BenchmarkHTTP(b, func(b *testing.B, idempotent bool, ran func()) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /pay", func(w http.ResponseWriter, r *http.Request) {
			ran()
			w.Header().Set("Location", coretest.BenchLocation)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(coretest.BenchBody))
		})
		if !idempotent {
			return mux
		}
		mw, err := idemhttp.NewE(core.WithStore(memory.New()), idemhttp.WithRoute(idemhttp.MuxRoute(mux)))
		if err != nil {
			b.Fatal(err)
		}
		return mw(mux)
	})
}
