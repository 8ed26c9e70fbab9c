package idemgin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	idemgin "github.com/idemkit/idempotency/gin"
	"github.com/idemkit/idempotency/storage/memory"
)

func Example() {
	charges := 0
	r := gin.New()
	r.POST("/charges", idemgin.New(core.WithStore(memory.New())), func(c *gin.Context) {
		charges++
		c.JSON(http.StatusCreated, gin.H{"charge": charges})
	})

	for i := 0; i < 2; i++ {
		req := httptest.NewRequest(http.MethodPost, "/charges", strings.NewReader(`{"amount":100}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		fmt.Println(w.Code, w.Header().Get("Idempotency-Status"), w.Body.String())
	}
	fmt.Println("charges:", charges)
	// Output:
	// 201 Original {"charge":1}
	// 201 Repeated {"charge":1}
	// charges: 1
}

func ExampleNew_tag() {
	r := gin.New()
	r.POST("/votes", idemgin.New(core.WithStore(memory.New()), core.Tag("optional,ttl=60s,scope=ip")), func(c *gin.Context) {
		c.Status(http.StatusNoContent)
	})
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/votes", nil)) // no key: optional
	fmt.Println(w.Code, w.Header().Get("Idempotency-Status") == "")
	// Output: 204 true
}
