package idemgin_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemgin "github.com/idemkit/idempotency/gin"
	"github.com/idemkit/idempotency/storage/memory"
)

// BenchmarkGin measures idemgin over a bare Gin handler (see
// coretest.BenchmarkHTTP for what every iteration checks).
func BenchmarkGin(b *testing.B) {
	coretest.BenchmarkHTTP(b, func(b *testing.B, idempotent bool, ran func()) http.Handler {
		handler := func(c *gin.Context) {
			ran()
			c.Header("Location", coretest.BenchLocation)
			c.Data(http.StatusCreated, "application/json", []byte(coretest.BenchBody))
		}
		r := gin.New()
		if !idempotent {
			r.POST("/pay", handler)
			return r
		}
		mw, err := idemgin.NewE(core.WithStore(memory.New()))
		if err != nil {
			b.Fatal(err)
		}
		r.POST("/pay", mw, handler)
		return r
	})
}

// BenchmarkGinResponseSize measures first requests whose handler writes
// a larger response at once: the capture copies the body once, into the
// stored payload (bytes per op grow by about one body, not two). Every
// iteration checks the status, the Idempotency-Status, the body length
// and the run count.
func BenchmarkGinResponseSize(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("first/%dKB", size>>10), func(b *testing.B) {
			resp := bytes.Repeat([]byte("x"), size)
			runs := 0
			mw, err := idemgin.NewE(core.WithStore(memory.New(memory.WithMaxBytes(1<<40))), core.WithMaxResponseBytes(2<<20))
			if err != nil {
				b.Fatal(err)
			}
			r := gin.New()
			r.POST("/pay", mw, func(c *gin.Context) {
				runs++
				c.Data(http.StatusCreated, "application/json", resp)
			})
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "/pay", strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", fmt.Sprintf("00000000-0000-4000-8000-%012x", i))
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "Original" || w.Body.Len() != size || runs != i+1 {
					b.Fatalf("iteration %d: status %d, %q, %d bytes, %d runs", i, w.Code, w.Header().Get("Idempotency-Status"), w.Body.Len(), runs)
				}
			}
		})
	}
}
