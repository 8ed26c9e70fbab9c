package idemecho_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/storage/memory"
)

// opaqueWriter hides the *echo.Response under it: it has no Unwrap.
type opaqueWriter struct{ http.ResponseWriter }

// An outer middleware that replaces c.Response() with a writer that does
// not unwrap to the *echo.Response: the capture wraps that writer and
// keeps the status itself, so that the handler's status (and an error's,
// answered by the HTTPErrorHandler) is stored and replayed.
func TestOpaqueResponseWriter(t *testing.T) {
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.SetResponse(&opaqueWriter{c.Response()})
			return next(c)
		}
	})
	runs := 0
	e.POST("/charges", func(c *echo.Context) error {
		runs++
		c.Response().Header().Set("Location", "/charges/1")
		return c.JSON(http.StatusCreated, map[string]int{"charge": runs})
	}, idemecho.New(core.WithStore(memory.New())))
	e.POST("/refused", func(c *echo.Context) error {
		runs++
		return echo.NewHTTPError(http.StatusTeapot, "refused")
	}, idemecho.New(core.WithStore(memory.New())))

	for _, tc := range []struct {
		path, body, location string
		status               int
	}{
		{"/charges", `{"charge":1}`, "/charges/1", http.StatusCreated},
		{"/refused", `{"message":"refused"}`, "", http.StatusTeapot},
	} {
		runs = 0
		for i, want := range []string{"Original", "Repeated"} {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(`{}`))
			req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != tc.status || w.Header().Get("Idempotency-Status") != want ||
				strings.TrimSpace(w.Body.String()) != tc.body || w.Header().Get("Location") != tc.location {
				t.Fatalf("%s #%d: %d %q %q Location %q, want %d %s %s %q", tc.path, i+1, w.Code,
					w.Header().Get("Idempotency-Status"), w.Body, w.Header().Get("Location"), tc.status, want, tc.body, tc.location)
			}
		}
		if runs != 1 {
			t.Fatalf("%s: handler ran %d times, want 1", tc.path, runs)
		}
	}
}
