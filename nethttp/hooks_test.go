package idemhttp_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemhttp "github.com/idemkit/idempotency/nethttp"
)

func TestHooks(t *testing.T) {
	coretest.TestHooks(t, harness, coretest.TypedHooks{
		SkipIfHeader: func(name string) core.Option {
			return idemhttp.WithSkipper(func(r *http.Request) bool { return r.Header.Get(name) != "" })
		},
		UserFromHeader: func(name string) core.Option {
			return idemhttp.WithUserGetter(func(r *http.Request) string { return r.Header.Get(name) })
		},
		ScopeFromHeader: func(name string) core.Option {
			return idemhttp.WithScopeGetter(func(r *http.Request) (string, error) {
				if s := r.Header.Get(name); s != "" {
					return s, nil
				}
				return "", errors.New("no " + name)
			})
		},
		KeyFromQuery: func(name string) core.Option {
			return idemhttp.WithKeyGetter(func(r *http.Request) (string, bool, error) {
				k := r.URL.Query().Get(name)
				return k, k != "", nil
			})
		},
		HasContext: func(r core.Request) bool { return idemhttp.Request(r) != nil },
	})
}

// net/http has no error handler: a refusal an error responder returns as
// an error is answered with the problem's status and its status text
// (500 for an error that is not a *core.Problem), the handler unrun.
func TestErrorResponderError(t *testing.T) {
	ran := false
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran = true; w.WriteHeader(201) })
	for _, tc := range []struct {
		err    error
		status int
	}{
		{nil, http.StatusBadRequest}, // the problem itself
		{errors.New("responder failed"), http.StatusInternalServerError},
	} {
		mw := idemhttp.New(core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
			if tc.err != nil {
				return core.Response{}, tc.err
			}
			return core.Response{}, p
		})))
		w := httptest.NewRecorder()
		mux := http.NewServeMux()
		mux.Handle("POST /items", mw(h))
		mux.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/items", strings.NewReader(`{}`)))
		if w.Code != tc.status || strings.TrimSpace(w.Body.String()) != http.StatusText(tc.status) || ran {
			t.Errorf("error %v: %d %q, handler ran %v; want %d %q, not run", tc.err, w.Code, w.Body, ran, tc.status, http.StatusText(tc.status))
		}
	}
}
