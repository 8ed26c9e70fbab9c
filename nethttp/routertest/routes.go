package routertest

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/gorilla/mux"
)

// ChiRoute is the route getter for idemhttp.WithRoute on chi, as
// idemhttp's documentation gives it: chi completes its own route pattern
// only after the handler ran, so the getter asks the top router
// (rctx.Routes) which pattern the request matches. It works under r.Use,
// r.Group, r.Route and Mount alike, and returns "" for chi's 404 and 405.
func ChiRoute(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return ""
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	return rctx.Routes.Find(chi.NewRouteContext(), r.Method, path)
}

// GorillaRoute is the route getter for idemhttp.WithRoute on
// gorilla/mux, for middleware added with Router.Use (or on a route's
// handler), which gorilla runs after matching and never for its 404 and
// 405.
func GorillaRoute(r *http.Request) string {
	if cr := mux.CurrentRoute(r); cr != nil {
		t, _ := cr.GetPathTemplate()
		return t
	}
	return ""
}
