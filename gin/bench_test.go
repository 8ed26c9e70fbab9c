package idemgin_test

import (
	"net/http"
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
