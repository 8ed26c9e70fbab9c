package idemecho_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/storage/memory"
)

// A response held for its transaction is sent by the Engine once
// committed, and *echo.Response then says what the client got: its
// status, Committed and Size, which an outer middleware (a logger)
// reads, also when a failed commit replaces the response with a problem.
// Seen failing before the sink restarted Size (the held body counted
// twice).
func TestHeldResponseKeepsEchoResponseInStep(t *testing.T) {
	st := coretest.NewTxStore(memory.New())
	e := echo.New()
	var status int
	var committed bool
	var size int64
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			err := next(c)
			res, _ := echo.UnwrapResponse(c.Response())
			status, committed, size = res.Status, res.Committed, res.Size
			return err
		}
	})
	const body = `{"id":1}`
	e.POST("/items", func(c *echo.Context) error {
		tx, err := coretest.BeginTx(c.Request().Context())
		if err != nil {
			return err
		}
		tx.Insert("row")
		return c.Blob(http.StatusCreated, "application/json", []byte(body))
	}, idemecho.New(core.WithStore(st)))

	for i, fail := range []bool{false, true} {
		if fail {
			st.FailCommits.Add(1) // the Engine sends a 503 problem instead
		}
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`))
		req.Header.Set("Idempotency-Key", fmt.Sprintf("00000000-0000-4000-8000-00000000000%d", i+1))
		req.Header.Set("Content-Type", "application/json")
		e.ServeHTTP(w, req)
		if want := map[bool]int{false: http.StatusCreated, true: http.StatusServiceUnavailable}[fail]; w.Code != want {
			t.Fatalf("commit failing %v: got %d %q, want %d", fail, w.Code, w.Body, want)
		}
		if !fail && (w.Body.String() != body || len(st.Rows()) != 1) {
			t.Fatalf("got %q, rows %v: want the handler's committed body and row", w.Body, st.Rows())
		}
		if status != w.Code || !committed || size != int64(w.Body.Len()) {
			t.Fatalf("commit failing %v: echo.Response: status %d, committed %v, size %d; the client got %d, %d bytes",
				fail, status, committed, size, w.Code, w.Body.Len())
		}
	}
}
