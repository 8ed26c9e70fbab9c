package idemgin_test

import (
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

// While a response is held for its transaction, c.Writer behaves as it
// would had the response gone out: Written reports it, and a later status
// is ignored, as Gin ignores one after the header was written. Otherwise
// a middleware between idemkit and the handler that answers when nothing
// was written (or sets a status afterwards) turns the handler's committed
// 201 into its own 500. Seen failing with Written and WriteHeader not
// overridden (500, both bodies).
func TestHeldResponseLooksWritten(t *testing.T) {
	st := coretest.NewTxStore(memory.New())
	r := gin.New()
	r.POST("/items", idemgin.New(core.WithStore(st)), func(c *gin.Context) {
		c.Next()
		if !c.Writer.Written() {
			c.String(http.StatusInternalServerError, "nothing written")
		}
	}, func(c *gin.Context) {
		tx, err := coretest.BeginTx(c.Request.Context())
		if err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		tx.Insert("row")
		c.String(http.StatusCreated, "created")
		c.Status(http.StatusInternalServerError) // ignored by Gin: the header went out
	})
	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "00000000-0000-4000-8000-000000000001")
	req.Header.Set("Content-Type", "application/json")
	r.ServeHTTP(w, req)
	if w.Code != http.StatusCreated || w.Body.String() != "created" {
		t.Fatalf("got %d %q, want the handler's 201", w.Code, w.Body)
	}
	if rows := st.Rows(); len(rows) != 1 {
		t.Fatalf("rows = %v, want the committed row", rows)
	}
}
