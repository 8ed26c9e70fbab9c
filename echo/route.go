package idemecho

import (
	"reflect"
	"sync"

	"github.com/labstack/echo/v4"
)

// routeOf returns the pattern of the route Echo matched for c, or "" when
// it matched none. For an unmatched request Echo still fills c.Path()
// (with the longest partial match, or the pattern of a RouteNotFound
// handler) but runs NotFoundHandler, MethodNotAllowedHandler or a
// RouteNotFound handler: those are Echo's own 404/405 answers and must
// pass through untouched.
func routeOf(c echo.Context) string {
	h := c.Handler()
	if h == nil {
		return ""
	}
	p := reflect.ValueOf(h).Pointer()
	if p == reflect.ValueOf(echo.NotFoundHandler).Pointer() || p == reflect.ValueOf(echo.MethodNotAllowedHandler).Pointer() {
		return ""
	}
	path := c.Path()
	if notFoundRoutes(c.Echo())[path] {
		return ""
	}
	return path
}

// notFoundPaths caches, per Echo, the paths registered with RouteNotFound
// (rare, and registered at start-up).
var notFoundPaths sync.Map // *echo.Echo -> *notFoundSet

type notFoundSet struct {
	once  sync.Once
	paths map[string]bool
}

func notFoundRoutes(e *echo.Echo) map[string]bool {
	v, ok := notFoundPaths.Load(e)
	if !ok {
		v, _ = notFoundPaths.LoadOrStore(e, &notFoundSet{})
	}
	s := v.(*notFoundSet)
	s.once.Do(func() {
		for _, r := range e.Routes() {
			if r.Method == echo.RouteNotFound {
				if s.paths == nil {
					s.paths = make(map[string]bool)
				}
				s.paths[r.Path] = true
			}
		}
	})
	return s.paths
}
