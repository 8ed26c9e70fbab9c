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
