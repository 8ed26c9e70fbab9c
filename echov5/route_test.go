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

// Echo's own 404 and 405 answers, and RouteNotFound routes (those a Group
// with middleware registers, those the application adds, also after the
// first request), pass through the middleware untouched; a real route on
// a RouteNotFound pattern is served under its pattern.
// With a router other than Echo's default one (the concurrent router
// here), the matched route decides every time.
func TestUnmatchedRoutesPassThrough(t *testing.T) {
	t.Run("DefaultRouter", func(t *testing.T) { testUnmatched(t, echo.New()) })
	t.Run("ConcurrentRouter", func(t *testing.T) {
		testUnmatched(t, echo.NewWithConfig(echo.Config{Router: echo.NewConcurrentRouter(echo.NewRouter(echo.RouterConfig{}))}))
	})
}

func testUnmatched(t *testing.T, e *echo.Echo) {
	e.Use(idemecho.New(core.WithStore(memory.New())))
	ok := func(c *echo.Context) error { return c.String(http.StatusCreated, "created "+c.Path()) }
	e.POST("/items/:id", ok)
	api := e.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc { return next })
	api.POST("/pay/:id", ok)
	e.POST("/wild/*", ok)
	nf := func(c *echo.Context) error { return c.String(http.StatusNotFound, "custom not found") }
	e.RouteNotFound("/nf/*", nf)

	do := func(method, path string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		return w
	}
	untouched := func(method, path string, status int) {
		t.Helper()
		for i := 0; i < 2; i++ {
			w := do(method, path)
			if w.Code != status || w.Header().Get("Idempotency-Status") != "" {
				t.Fatalf("%s %s #%d: %d %q %q, want Echo's %d untouched", method, path, i+1, w.Code, w.Header().Get("Idempotency-Status"), w.Body, status)
			}
		}
	}
	served := func(method, path, want string) {
		t.Helper()
		w := do(method, path)
		if w.Code != http.StatusCreated || w.Header().Get("Idempotency-Status") != "Original" || w.Body.String() != want {
			t.Fatalf("%s %s: %d %q %q, want 201 Original %q", method, path, w.Code, w.Header().Get("Idempotency-Status"), w.Body, want)
		}
	}

	served(http.MethodPost, "/items/1", "created /items/:id")
	served(http.MethodPost, "/wild/x", "created /wild/*")
	served(http.MethodPost, "/api/pay/1", "created /api/pay/:id")
	untouched(http.MethodPost, "/nothing", http.StatusNotFound)
	untouched(http.MethodPut, "/items/1", http.StatusMethodNotAllowed)
	untouched(http.MethodPost, "/api/nothing", http.StatusNotFound) // the Group's catch-all
	untouched(http.MethodPost, "/nf/x", http.StatusNotFound)
	// Added while serving: the cached RouteNotFound patterns follow.
	e.RouteNotFound("/late/*", nf)
	untouched(http.MethodPost, "/late/x", http.StatusNotFound)
	// A real route on the Group's catch-all pattern is a route.
	api.POST("/*", ok)
	served(http.MethodPost, "/api/anything", "created /api/*")
}
