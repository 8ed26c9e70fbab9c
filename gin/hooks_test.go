package idemgin_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemgin "github.com/idemkit/idempotency/gin"
)

func TestHooks(t *testing.T) {
	coretest.TestHooks(t, coretest.Harness{Start: startGin, HandlerErrors: true}, coretest.TypedHooks{
		SkipIfHeader: func(name string) core.Option {
			return idemgin.WithSkipper(func(c *gin.Context) bool { return c.GetHeader(name) != "" })
		},
		UserFromHeader: func(name string) core.Option {
			return idemgin.WithUserGetter(func(c *gin.Context) string { return c.GetHeader(name) })
		},
		ScopeFromHeader: func(name string) core.Option {
			return idemgin.WithScopeGetter(func(c *gin.Context) (string, error) {
				if s := c.GetHeader(name); s != "" {
					return s, nil
				}
				return "", errors.New("no " + name)
			})
		},
		KeyFromQuery: func(name string) core.Option {
			return idemgin.WithKeyGetter(func(c *gin.Context) (string, bool, error) {
				k := c.Query(name)
				return k, k != "", nil
			})
		},
		HasContext: func(r core.Request) bool { return idemgin.Context(r) != nil },
	})
}

// An error responder that returns an error hands the refusal to gin's
// error handling: the error is in c.Errors for an outer middleware, and
// the request is aborted with the problem's status, the handler unrun.
func TestErrorResponderError(t *testing.T) {
	var got []error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			got = append(got, e.Err)
		}
	})
	ran := false
	r.POST("/items", idemgin.New(core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
		return core.Response{}, p
	}))), func(c *gin.Context) { ran = true; c.Status(201) })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`)))
	if w.Code != http.StatusBadRequest {
		t.Errorf("status %d, want the problem's 400", w.Code)
	}
	if ran {
		t.Error("the handler ran after a refusal")
	}
	var p *core.Problem
	if len(got) != 1 || !errors.As(got[0], &p) || p.Kind != core.ProblemMissingKey {
		t.Fatalf("c.Errors = %v, want the missing-key problem", got)
	}
	if w.Body.Len() != 0 {
		t.Errorf("body %q: the middleware wrote the refusal itself", w.Body)
	}

	// An error that is not a *core.Problem has no status of its own: 500.
	got = nil
	plain := errors.New("responder failed")
	r.POST("/plain", idemgin.New(core.WithErrorResponder(core.ErrorResponderFunc(func(core.Request, *core.Problem) (core.Response, error) {
		return core.Response{}, plain
	}))), func(c *gin.Context) { ran = true; c.Status(201) })
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/plain", strings.NewReader(`{}`)))
	if w.Code != http.StatusInternalServerError || ran || len(got) != 1 || got[0] != plain {
		t.Errorf("plain error: status %d, ran %v, c.Errors %v; want 500, false, [%v]", w.Code, ran, got, plain)
	}
}

// A refusal handed to gin's error handling must leave the response
// unwritten, so that the outer middleware that renders c.Errors can
// choose the status and set its headers (Content-Type above all). Gin's
// AbortWithStatus writes the header at once, which would freeze the
// problem's status and drop every header the renderer sets.
func TestErrorResponderErrorLeavesResponseToOuterMiddleware(t *testing.T) {
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		if err := c.Errors.Last(); err != nil {
			var p *core.Problem
			if errors.As(err.Err, &p) {
				c.Header("Retry-After", "7")
				c.JSON(http.StatusUnprocessableEntity, gin.H{"error": string(p.Kind)})
			}
		}
	})
	r.POST("/items", idemgin.New(core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
		return core.Response{}, p
	}))), func(c *gin.Context) { c.Status(201) })

	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`)))
	res := w.Result()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("status %d, want the outer renderer's 422", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q, want the outer renderer's application/json", ct)
	}
	if ra := res.Header.Get("Retry-After"); ra != "7" {
		t.Errorf("Retry-After %q, want the outer renderer's 7", ra)
	}
	if body := w.Body.String(); body != `{"error":"missing-key"}` {
		t.Errorf("body %q, want the outer renderer's", body)
	}
}
