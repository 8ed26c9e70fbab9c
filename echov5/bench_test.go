package idemecho_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/storage/memory"
)

// BenchmarkEchoV5 measures idemecho over a bare Echo v5 handler (see
// coretest.BenchmarkHTTP for what every iteration checks).
func BenchmarkEchoV5(b *testing.B) {
	coretest.BenchmarkHTTP(b, func(b *testing.B, idempotent bool, ran func()) http.Handler {
		handler := func(c *echo.Context) error {
			ran()
			c.Response().Header().Set("Location", coretest.BenchLocation)
			return c.Blob(http.StatusCreated, "application/json", []byte(coretest.BenchBody))
		}
		e := echo.New()
		if !idempotent {
			e.POST("/pay", handler)
			return e
		}
		mw, err := idemecho.NewE(core.WithStore(memory.New()))
		if err != nil {
			b.Fatal(err)
		}
		e.POST("/pay", handler, mw)
		return e
	})
}
