package routertest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemhttp "github.com/idemkit/idempotency/nethttp"
)

// chi and gorilla/mux report patterns as /items/{id}.
func pattern(route string) string { return "/" + route + "/{id}" }

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

func TestChi(t *testing.T) {
	coretest.TestAdapter(t, coretest.Harness{Start: startChi, HandlerErrors: true, Pattern: pattern})
}

func TestGorilla(t *testing.T) {
	coretest.TestAdapter(t, coretest.Harness{Start: startGorilla, HandlerErrors: true, Pattern: pattern})
}

// startChi mounts the middleware on chi: on each route with r.With, where
// chi sets r.Pattern before the chain runs, so the default route is
// right; with r.Use (global) or in an r.Group, where chi has not matched
// yet, with WithRoute(ChiRoute).
func startChi(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	r := chi.NewRouter()
	r.Use(recovery, outerHeaders, userFromHeader)
	if setup.Outer != nil {
		r.Use(mustMiddleware(t, setup.Outer, idemhttp.WithRoute(ChiRoute)))
	}
	var routes chi.Router = r
	switch setup.Mount {
	case coretest.MountGlobal:
		r.Use(mustMiddleware(t, setup.Options, idemhttp.WithRoute(ChiRoute)))
	case coretest.MountGroup:
		routes = r.Group(func(g chi.Router) { g.Use(mustMiddleware(t, setup.Options, idemhttp.WithRoute(ChiRoute))) })
	default:
		routes = r.With(mustMiddleware(t, setup.Options))
	}
	for _, route := range []string{"items", "other"} {
		h := handler(app, route, func(r *http.Request) string { return chi.URLParam(r, "id") })
		for _, m := range methods {
			routes.Method(m, "/"+route+"/{id}", h)
		}
	}
	return serve(t, r)
}

// startGorilla mounts the middleware on gorilla/mux with
// WithRoute(GorillaRoute) everywhere (gorilla sets no r.Pattern): on each
// route's handler, with Router.Use (global), and with Use on a
// subrouter at the root (group).
func startGorilla(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	r := mux.NewRouter()
	r.Use(recovery, outerHeaders, userFromHeader)
	if setup.Outer != nil {
		r.Use(mustMiddleware(t, setup.Outer, idemhttp.WithRoute(GorillaRoute)))
	}
	routes := r
	wrap := func(h http.Handler) http.Handler { return h }
	switch mw := mustMiddleware(t, setup.Options, idemhttp.WithRoute(GorillaRoute)); setup.Mount {
	case coretest.MountGlobal:
		r.Use(mw)
	case coretest.MountGroup:
		routes = r.PathPrefix("/").Subrouter()
		routes.Use(mw)
	default:
		wrap = mw
	}
	for _, route := range []string{"items", "other"} {
		h := wrap(handler(app, route, func(r *http.Request) string { return mux.Vars(r)["id"] }))
		routes.Handle("/"+route+"/{id}", h).Methods(methods...)
	}
	return serve(t, r)
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// handler is the app's handler for route, written with net/http alone;
// id reads the router's path parameter.
func handler(app *coretest.App, route string, id func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user, _ := r.Context().Value("user").(string)
		out := app.Exec(coretest.Input{
			Method: r.Method, Route: route, ID: id(r),
			Query: r.URL.Query().Get, Body: body, User: user, Ctx: r.Context(),
		})
		for k, v := range out.Header {
			for _, s := range v {
				w.Header().Add(k, s)
			}
		}
		switch {
		case out.Panic:
			panic("coretest panic")
		case out.Err:
			code := out.ErrStatus
			if code == 0 {
				code = http.StatusInternalServerError
			}
			http.Error(w, "coretest handler error", code)
		case out.Stream:
			w.WriteHeader(out.Status)
			half := len(out.Body) / 2
			_, _ = w.Write(out.Body[:half])
			_ = http.NewResponseController(w).Flush()
			_, _ = w.Write(out.Body[half:])
		default:
			w.WriteHeader(out.Status)
			_, _ = w.Write(out.Body)
			if out.PanicAfterWrite {
				panic("coretest panic")
			}
		}
	})
}

func recovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				http.Error(w, "panic", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func outerHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range coretest.OuterHeaders(r.Header.Get("Origin")) {
			w.Header().Set(h[0], h[1])
		}
		next.ServeHTTP(w, r)
	})
}

func userFromHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get("X-User-ID"); u != "" {
			//lint:ignore SA1029 core.WithUserKey looks up a plain string key
			r = r.WithContext(context.WithValue(r.Context(), "user", u))
		}
		next.ServeHTTP(w, r)
	})
}

func mustMiddleware(t *testing.T, opts []core.Option, more ...core.Option) func(http.Handler) http.Handler {
	t.Helper()
	m, err := idemhttp.NewE(append(opts[:len(opts):len(opts)], more...)...)
	if err != nil {
		t.Fatalf("idemhttp.NewE: %v", err)
	}
	return m
}
