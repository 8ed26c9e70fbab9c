package idemecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/storage/memory"
)

func Example() {
	charges := 0
	e := echo.New()
	e.POST("/charges", func(c *echo.Context) error {
		charges++
		return c.JSON(http.StatusCreated, map[string]int{"charge": charges})
	}, idemecho.New(core.WithStore(memory.New())))

	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":100}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("Idempotency-Status"), strings.TrimSpace(w.Body.String()))
	}
	fmt.Println("charges:", charges)
	// Output:
	// 201 Original {"charge":1}
	// 201 Repeated {"charge":1}
	// charges: 1
}

// With WithHTTPErrors, refusals go to Echo's HTTPErrorHandler; Echo's
// RFC 9457 handler renders them as application/problem+json.
func ExampleWithHTTPErrors() {
	e := echo.New()
	e.HTTPErrorHandler = echo.ProblemDetailsHTTPErrorHandler(false)
	e.POST("/charges", func(c *echo.Context) error {
		return c.String(http.StatusCreated, "charged")
	}, idemecho.New(core.WithStore(memory.New()), idemecho.WithHTTPErrors()))

	req := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":100}`))
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req) // no Idempotency-Key
	fmt.Println(w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
	fmt.Println(strings.TrimSpace(w.Body.String()))
	// Output:
	// 400 application/problem+json no-store
	// {"type":"urn:idemkit:problem:missing-key","title":"Idempotency key missing","status":400,"detail":"this endpoint requires an Idempotency-Key header"}
}
