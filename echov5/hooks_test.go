package idemecho_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestHooks(t *testing.T) {
	coretest.TestHooks(t, coretest.Harness{Start: startEcho, HandlerErrors: true}, coretest.TypedHooks{
		SkipIfHeader: func(name string) core.Option {
			return idemecho.WithSkipper(func(c *echo.Context) bool { return c.Request().Header.Get(name) != "" })
		},
		UserFromHeader: func(name string) core.Option {
			return idemecho.WithUserGetter(func(c *echo.Context) string { return c.Request().Header.Get(name) })
		},
		ScopeFromHeader: func(name string) core.Option {
			return idemecho.WithScopeGetter(func(c *echo.Context) (string, error) {
				if s := c.Request().Header.Get(name); s != "" {
					return s, nil
				}
				return "", errors.New("no " + name)
			})
		},
		KeyFromQuery: func(name string) core.Option {
			return idemecho.WithKeyGetter(func(c *echo.Context) (string, bool, error) {
				k := c.QueryParam(name)
				return k, k != "", nil
			})
		},
		HasContext: func(r core.Request) bool { return idemecho.Context(r) != nil },
	})
}

// WithHTTPErrors hands refusals to Echo's HTTPErrorHandler as a
// *idemecho.ProblemError: echo.StatusCode is the problem's status,
// errors.As finds the *core.Problem, and Retry-After (409, 503) and
// Cache-Control: no-store are on the response before the handler writes.
func TestWithHTTPErrors(t *testing.T) {
	const key = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a001"
	store := &coretest.FlakyStore{Store: memory.New()}
	var mu sync.Mutex
	var handled []error
	e := echo.New()
	e.HTTPErrorHandler = func(c *echo.Context, err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
		var pe *idemecho.ProblemError
		if !errors.As(err, &pe) {
			_ = c.String(599, "not an *idemecho.ProblemError")
			return
		}
		_ = c.String(echo.StatusCode(err), "rendered by the application")
	}
	started, release := make(chan struct{}), make(chan struct{})
	e.POST("/items", func(c *echo.Context) error {
		if c.QueryParam("wait") != "" {
			close(started)
			<-release
		}
		return c.String(http.StatusCreated, "created")
	}, idemecho.New(core.WithStore(store), core.WithLockWait(10*time.Millisecond), idemecho.WithHTTPErrors()))
	srv := httptest.NewServer(e)
	defer srv.Close()

	post := func(path, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(`{"a":1}`))
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	check := func(resp *http.Response, status int, kind core.ProblemKind, retryAfter bool) {
		t.Helper()
		if resp.StatusCode != status {
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(handled) == 0 {
			t.Fatal("the HTTPErrorHandler saw no error")
		}
		err := handled[len(handled)-1]
		var pe *idemecho.ProblemError
		var p *core.Problem
		switch {
		case !errors.As(err, &pe):
			t.Fatalf("error %T %v, want an *idemecho.ProblemError", err, err)
		case echo.StatusCode(err) != status:
			t.Fatalf("echo.StatusCode %d, want %d", echo.StatusCode(err), status)
		case !errors.As(err, &p) || p.Kind != kind || p.Status != status:
			t.Fatalf("errors.As found no %s problem in %v", kind, err)
		case pe.Problem != p:
			t.Fatalf("ProblemError.Problem %v, want the problem", pe.Problem)
		}
		if got := resp.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if got := resp.Header.Get("Retry-After"); (got != "") != retryAfter {
			t.Errorf("Retry-After %q, want it set: %v", got, retryAfter)
		}
	}

	check(post("/items", ""), http.StatusBadRequest, core.ProblemMissingKey, false)
	check(post("/items", "not-a-uuid"), http.StatusBadRequest, core.ProblemInvalidKey, false)

	// 409: a duplicate while the original still runs.
	done := make(chan *http.Response)
	go func() { done <- post("/items?wait=1", key) }()
	<-started
	check(post("/items?wait=1", key), http.StatusConflict, core.ProblemInFlight, true)
	close(release)
	if resp := <-done; resp.StatusCode != http.StatusCreated {
		t.Fatalf("original: %d", resp.StatusCode)
	}

	// 503: the store is down.
	store.SetDown(true)
	check(post("/items", "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a002"), http.StatusServiceUnavailable, core.ProblemStoreUnavailable, true)
}

// Echo's own error handlers render a ProblemError as the problem: the
// default one as its JSON (a json.Marshaler status coder), the RFC 9457
// one as application/problem+json with the problem's type and title.
func TestWithHTTPErrorsEchoHandlers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler echo.HTTPErrorHandler
		ctype   string
	}{
		{"DefaultHTTPErrorHandler", echo.DefaultHTTPErrorHandler(false), "application/json"},
		{"ProblemDetailsHTTPErrorHandler", echo.ProblemDetailsHTTPErrorHandler(false), "application/problem+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := echo.New()
			e.HTTPErrorHandler = tc.handler
			e.POST("/items", func(c *echo.Context) error { return c.String(http.StatusCreated, "created") },
				idemecho.New(core.WithStore(memory.New()), idemecho.WithHTTPErrors()))
			req := httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`))
			req.Header.Set("Idempotency-Key", "not-a-uuid")
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			var got core.Problem
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if w.Code != http.StatusBadRequest || got.Status != http.StatusBadRequest ||
				!strings.HasSuffix(got.Type, string(core.ProblemInvalidKey)) || got.Title == "" {
				t.Fatalf("%d %q, want the 400 invalid-key problem", w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
				t.Errorf("Content-Type %q, want %s", ct, tc.ctype)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", cc)
			}
		})
	}
}
