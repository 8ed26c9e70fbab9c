package idemgin_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	idemgin "github.com/idemkit/idempotency/gin"
	"github.com/idemkit/idempotency/storage/memory"
)

var benchPayload = []byte(`{"amount":12500,"currency":"EUR","customer":"cus_8f2k3j4h5g6f","description":"Order #100234 - 2x widget, 1x gadget","metadata":{"channel":"web","campaign":"autumn-sale","ref":"r-7777"},"capture":true}`)

// BenchmarkGin measures the middleware's cost over a bare handler on the
// same router: memory store, 200-byte JSON body, fingerprinting on.
// SPEC §7: idemgin/first - bare under 2.5 µs and 12 allocs.
func BenchmarkGin(b *testing.B) {
	if len(benchPayload) != 200 {
		b.Fatalf("payload is %d bytes", len(benchPayload))
	}
	handler := func(c *gin.Context) {
		c.Header("Location", "/pay/1")
		c.Data(http.StatusCreated, "application/json", []byte(`{"id":"pay_1","status":"succeeded"}`))
	}
	for _, mode := range []string{"bare", "first", "replay"} {
		b.Run(mode, func(b *testing.B) {
			r := gin.New()
			if mode == "bare" {
				r.POST("/pay", handler)
			} else {
				mw, err := idemgin.NewE(core.WithStore(memory.New()))
				if err != nil {
					b.Fatal(err)
				}
				r.POST("/pay", mw, handler)
			}
			keys := make([]string, 1)
			if mode == "first" {
				keys = make([]string, b.N+1)
			}
			for i := range keys {
				keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
			}
			req := httptest.NewRequest(http.MethodPost, "/pay", nil)
			req.Header.Set("Content-Type", "application/json")
			body := bytes.NewReader(benchPayload)
			w := &benchWriter{h: http.Header{}}
			serve := func(key string) {
				body.Reset(benchPayload)
				req.Body = readCloser{body}
				req.ContentLength = int64(len(benchPayload))
				req.Header["Idempotency-Key"] = []string{key}
				clear(w.h)
				w.status = 0
				r.ServeHTTP(w, req)
			}
			serve(keys[len(keys)-1]) // replay mode: store the response first
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				serve(keys[i%len(keys)])
				if w.status != http.StatusCreated {
					b.Fatalf("status %d", w.status)
				}
			}
		})
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// benchWriter is a reusable ResponseWriter, so the benchmark measures the
// middleware rather than the recorder.
type benchWriter struct {
	h      http.Header
	status int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *benchWriter) WriteHeader(s int)           { w.status = s }
