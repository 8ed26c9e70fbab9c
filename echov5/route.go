package idemecho

import (
	"sync"
	"sync/atomic"

	"github.com/labstack/echo/v5"
)

// routeOf returns the pattern of the route Echo matched for c, or "" when
// it matched none. Echo v5 routes before the middleware runs: for a 404
// c.Path() is "" (or the pattern of a RouteNotFound route, which a Group
// with middleware registers for its prefix), for a 405 it is the pattern
// of the path that matched, with the Allow header value in the context.
// Those are Echo's own 404/405 answers and must pass through untouched.
//
// c.RouteInfo() tells, but copies the route's parameter names on every
// call; with Echo's default router the RouteNotFound patterns are known
// up front, so it is asked only for those.
func routeOf(c *echo.Context) string {
	p := c.Path()
	if p == "" || c.Get(echo.ContextKeyHeaderAllow) != nil {
		return ""
	}
	if r, ok := c.Echo().Router().(*echo.DefaultRouter); ok && !notFoundRoutes(r)[p] {
		return p
	}
	// A RouteNotFound pattern can also be a real route's (a Group's
	// "/api/*" and a POST "/api/*"): the matched route decides.
	if m := c.RouteInfo().Method; m == echo.RouteNotFound || m == "" {
		return ""
	}
	return p
}

// notFoundPaths caches, per router, the patterns registered with
// RouteNotFound. Routes can be added and removed at run time: the set is
// rebuilt when the number of routes changes.
var notFoundPaths sync.Map // *echo.DefaultRouter -> *atomic.Pointer[notFoundSet]

type notFoundSet struct {
	routes int
	paths  map[string]bool
}

func notFoundRoutes(r *echo.DefaultRouter) map[string]bool {
	v, ok := notFoundPaths.Load(r)
	if !ok {
		v, _ = notFoundPaths.LoadOrStore(r, new(atomic.Pointer[notFoundSet]))
	}
	ptr := v.(*atomic.Pointer[notFoundSet])
	routes := r.Routes()
	if s := ptr.Load(); s != nil && s.routes == len(routes) {
		return s.paths
	}
	s := &notFoundSet{routes: len(routes)}
	for _, ri := range routes {
		if ri.Method == echo.RouteNotFound {
			if s.paths == nil {
				s.paths = make(map[string]bool)
			}
			s.paths[ri.Path] = true
		}
	}
	ptr.Store(s)
	return s.paths
}
