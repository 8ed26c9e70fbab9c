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
// SPEC §7 targets (idemgin over bare): first under 2.5 µs and 5 allocs,
// replay under 1.5 µs and 4 allocs.
//
// Every iteration checks what it measured: the status, the body and
// Location header of the handler's response, the Idempotency-Status header
// (absent for bare, Original for first, Repeated for replay) and the
// handler's run count, so a middleware that passed the request through
// fails the benchmark instead of looking fast.
func BenchmarkGin(b *testing.B) {
	if len(benchPayload) != 200 {
		b.Fatalf("payload is %d bytes", len(benchPayload))
	}
	wantBody := []byte(`{"id":"pay_1","status":"succeeded"}`)
	for _, mode := range []string{"bare", "first", "replay"} {
		b.Run(mode, func(b *testing.B) {
			runs := 0
			handler := func(c *gin.Context) {
				runs++
				c.Header("Location", "/pay/1")
				c.Data(http.StatusCreated, "application/json", []byte(`{"id":"pay_1","status":"succeeded"}`))
			}
			r := gin.New()
			wantStatus := ""
			switch mode {
			case "bare":
				r.POST("/pay", handler)
			default:
				mw, err := idemgin.NewE(core.WithStore(memory.New()))
				if err != nil {
					b.Fatal(err)
				}
				r.POST("/pay", mw, handler)
				wantStatus = "Original"
				if mode == "replay" {
					wantStatus = "Repeated"
				}
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
			w := &benchWriter{h: http.Header{}, body: make([]byte, 0, 512)}
			serve := func(key string) {
				body.Reset(benchPayload)
				req.Body = readCloser{body}
				req.ContentLength = int64(len(benchPayload))
				req.Header["Idempotency-Key"] = []string{key}
				w.reset()
				r.ServeHTTP(w, req)
			}
			// check reports what is wrong with the last response, "" if
			// nothing; it does not allocate when nothing is.
			check := func(idemStatus string, wantRuns int) string {
				switch {
				case w.status != http.StatusCreated:
					return fmt.Sprintf("status %d", w.status)
				case runs != wantRuns:
					return fmt.Sprintf("handler ran %d times, want %d", runs, wantRuns)
				case headerValue(w.h, "Idempotency-Status") != idemStatus:
					return fmt.Sprintf("Idempotency-Status %q, want %q", headerValue(w.h, "Idempotency-Status"), idemStatus)
				case headerValue(w.h, "Location") != "/pay/1" || !bytes.Equal(w.body, wantBody):
					return fmt.Sprintf("response %v %q is not the handler's", w.h, w.body)
				}
				return ""
			}
			setupRuns := 0
			if mode != "bare" {
				serve(keys[len(keys)-1]) // replay mode: store the response first
				setupRuns = 1
				if msg := check("Original", 1); msg != "" {
					b.Fatalf("setup request: %s", msg)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				serve(keys[i%len(keys)])
				wantRuns := setupRuns + i + 1
				if mode == "replay" {
					wantRuns = setupRuns
				}
				if msg := check(wantStatus, wantRuns); msg != "" {
					b.Fatalf("%s, iteration %d: %s", mode, i, msg)
				}
			}
			b.StopTimer()
			if mode == "replay" && runs != setupRuns {
				b.Fatalf("handler ran %d times: replays reached it", runs)
			}
			if mode != "replay" && runs != setupRuns+b.N {
				b.Fatalf("handler ran %d times for %d requests (and %d setup)", runs, b.N, setupRuns)
			}
		})
	}
}

func headerValue(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// benchWriter is a reusable ResponseWriter, so the benchmark measures the
// middleware rather than the recorder. It keeps the body in a buffer it
// reuses, for the checks.
type benchWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status = 0
	w.body = w.body[:0]
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.body = append(w.body, b...)
	return len(b), nil
}
func (w *benchWriter) WriteHeader(s int) { w.status = s }
