package idemhttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemhttp "github.com/idemkit/idempotency/nethttp"
)

// harness serves the conformance app on http.ServeMux. A handler fails
// with net/http's own idiom, http.Error, which answers at once: the
// middleware captures that answer like any other (as Gin's
// AbortWithError).
var harness = coretest.Harness{
	Start:         startMux,
	HandlerErrors: true,
	Pattern:       func(route string) string { return "/" + route + "/{id}" },
}

func TestConformance(t *testing.T) {
	coretest.TestAdapter(t, harness)
}

// startMux mounts the middleware as setup.Mount says:
//
//   - MountRoute: on each route, mux.Handle("POST /items/{id}", mw(h)),
//     where the mux has matched (r.Pattern) before the middleware runs;
//   - MountGlobal: around the whole mux, mw(mux), asking the mux for the
//     route (WithRoute(MuxRoute(mux)));
//   - MountGroup: around a sub-mux holding the routes, mounted under "/"
//     of the top mux, again with MuxRoute: the top mux's pattern ("/")
//     is the mount, not the route.
//
// The outer idempotency middleware of the nested cases wraps the whole
// mux, so it asks the mux that holds the routes.
func startMux(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	routes := http.NewServeMux() // the mux holding the routes
	var top http.Handler = routes
	wrap := func(h http.Handler) http.Handler { return h }
	switch setup.Mount {
	case coretest.MountGlobal:
		top = mustMiddleware(t, setup.Options, idemhttp.WithRoute(idemhttp.MuxRoute(routes)))(routes)
	case coretest.MountGroup:
		root := http.NewServeMux()
		root.Handle("/", mustMiddleware(t, setup.Options, idemhttp.WithRoute(idemhttp.MuxRoute(routes)))(routes))
		top = root
	default:
		wrap = mustMiddleware(t, setup.Options)
	}
	for _, route := range []string{"items", "other"} {
		h := wrap(handler(app, route))
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			routes.Handle(m+" /"+route+"/{id}", h)
		}
	}
	if setup.Outer != nil {
		top = mustMiddleware(t, setup.Outer, idemhttp.WithRoute(idemhttp.MuxRoute(routes)))(top)
	}
	srv := httptest.NewServer(recovery(outerHeaders(userFromHeader(top))))
	t.Cleanup(srv.Close)
	return srv.URL
}

// handler is the app's handler for route, written with net/http alone.
func handler(app *coretest.App, route string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		user, _ := r.Context().Value("user").(string)
		out := app.Exec(coretest.Input{
			Method: r.Method, Route: route, ID: r.PathValue("id"),
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
		default: // EventStream too: its Content-Type is in out.Header
			w.WriteHeader(out.Status)
			_, _ = w.Write(out.Body)
			if out.PanicAfterWrite {
				panic("coretest panic")
			}
		}
	})
}

// recovery answers a panic 500, as the other frameworks' recovery
// middlewares do (net/http's own drops the connection).
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

// outerHeaders sets a request id (and CORS) before the idempotency
// middleware runs.
func outerHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, h := range coretest.OuterHeaders(r.Header.Get("Origin")) {
			w.Header().Set(h[0], h[1])
		}
		next.ServeHTTP(w, r)
	})
}

// userFromHeader stores the X-User-ID header in the request's context
// under the plain string key "user", where core.WithUserKey("user")
// (through the adapter's Value) finds it.
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
