package idemhttp

import (
	"net/http"
	"reflect"
	"strings"

	"github.com/idemkit/idempotency/core"
)

// patternRoute returns the route of a ServeMux pattern as the Engine
// scopes it: the pattern without its method ("POST /items/{id}" is
// /items/{id}; the method is part of every scope already), host and
// wildcards kept. ServeMux separates the method from the rest by spaces
// or tabs, and a path never holds one, so whatever precedes the first
// blank is the method. "" stays "": no route, pass through.
func patternRoute(p string) string {
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		return strings.TrimLeft(p[i+1:], " \t")
	}
	return p
}

// WithRoute sets how the middleware finds the pattern of the route a
// request matched, for routers that have not matched it yet when the
// middleware runs: a middleware wrapping a whole http.ServeMux (use
// MuxRoute), chi's r.Use or sub-routers, gorilla/mux. route returns ""
// for a request that matched no route, which then passes through
// untouched (the router's own 404 or 405). The result scopes keys and
// labels telemetry: it must be a pattern, never a concrete path.
//
// Default: the request's Pattern, which http.ServeMux sets before it
// calls a route's handler (mux.Handle("POST /items/{id}", mw(h))), with
// its method left out. Wrapping a mux, the middleware runs before the mux
// matched, Pattern is "", and every request passes through; wrapping a
// mux mounted under a pattern (outer.Handle("/api/", mw(api))), Pattern
// is that mount, and every route under it would share one route scope:
// both need WithRoute.
//
// chi, under r.Use, r.Route and Mount alike (chi's own pattern is
// complete only after the handler ran):
//
//	idemhttp.WithRoute(func(r *http.Request) string {
//		rctx := chi.RouteContext(r.Context())
//		if rctx == nil {
//			return ""
//		}
//		path := r.URL.RawPath
//		if path == "" {
//			path = r.URL.Path
//		}
//		return rctx.Routes.Find(chi.NewRouteContext(), r.Method, path)
//	})
//
// gorilla/mux, with the middleware added by router.Use (which runs it
// after matching, and never for a 404 or 405):
//
//	idemhttp.WithRoute(func(r *http.Request) string {
//		if cr := mux.CurrentRoute(r); cr != nil {
//			t, _ := cr.GetPathTemplate()
//			return t
//		}
//		return ""
//	})
//
// nil restores the default.
func WithRoute(route func(r *http.Request) string) core.Option {
	if route == nil {
		return core.WithRouteResolver(nil)
	}
	return core.WithRouteResolver(func(r core.Request) string {
		if hr := Request(r); hr != nil {
			return route(hr)
		}
		return r.Route() // another adapter's request: its own route
	})
}

// MuxRoute returns a route getter for WithRoute that asks mux which of
// its patterns a request matches (mux.Handler), method left out, for a
// middleware wrapping the whole mux:
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /payments/{id}", pay)
//	srv := idemhttp.New(idemhttp.WithRoute(idemhttp.MuxRoute(mux)))(mux)
//
// A request the mux answers itself, 404, 405, or a redirect to the
// canonical path (//items/1, a subtree pattern's missing trailing slash),
// matches no route and passes through: the mux reports the target's
// pattern for those redirects, and claiming them would store a 307.
func MuxRoute(mux *http.ServeMux) func(*http.Request) string {
	return func(r *http.Request) string {
		h, p := mux.Handler(r)
		if p == "" || reflect.TypeOf(h) == redirectType {
			return ""
		}
		return patternRoute(p)
	}
}

// redirectType is the type of the handlers ServeMux.Handler returns for
// its own redirects (http.RedirectHandler's, unexported).
var redirectType = reflect.TypeOf(http.RedirectHandler("/", http.StatusTemporaryRedirect))
