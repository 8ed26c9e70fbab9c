package idemfiber

import (
	"reflect"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v3"
)

// Under app.Use or a Group, Fiber has not matched the request's route yet
// when the middleware runs: c.Route() is the middleware's own mount
// route, whose path is a prefix ("/", "/api") shared by every route below
// it. Scoping by it would make one key on /payments and /refunds collide,
// and label every metric with the prefix. routeOf finds the route Fiber
// will run next instead, the way Fiber's router does: the first route
// after the current one in the method's stack that is not a Use route
// and whose pattern matches the path.

// useField is the index of Route's unexported "use" flag. Fiber exposes
// no other way to tell a Use route from a handler route on a *Route (its
// Method is the request's for both); reading a bool through reflection is
// safe, and the adapter's tests fail loudly if a Fiber release renames it.
var useField = func() []int {
	f, ok := reflect.TypeOf(fiber.Route{}).FieldByName("use")
	if !ok || f.Type.Kind() != reflect.Bool {
		return nil
	}
	return f.Index
}()

func isUse(r *fiber.Route) bool {
	if useField == nil {
		return r.Method == "USE"
	}
	return reflect.ValueOf(r).Elem().FieldByIndex(useField).Bool()
}

var mountField = func() []int {
	f, ok := reflect.TypeOf(fiber.Route{}).FieldByName("mount")
	if !ok || f.Type.Kind() != reflect.Bool {
		return nil
	}
	return f.Index
}()

func isMount(r *fiber.Route) bool {
	return mountField != nil && reflect.ValueOf(r).Elem().FieldByIndex(mountField).Bool()
}

// routes caches, per app, which route a (mount route, path) pair leads
// to. It is rebuilt when the app registers more handlers.
var routes sync.Map // *fiber.App -> *appRoutes

type appRoutes struct {
	mu      sync.Mutex
	count   uint32
	cfg     fiber.Config
	methods []string
	found   map[routeKey]string
}

type routeKey struct {
	from   *fiber.Route
	method string
	path   string
}

// maxCachedRoutes bounds the cache: paths carry ids, so their number is
// unbounded; a full cache starts over.
const maxCachedRoutes = 4096

// routeOf returns the pattern of the route that serves c, or "" when no
// route matches (Fiber answers 404).
func routeOf(c fiber.Ctx) string {
	r := c.Route()
	if r == nil {
		return ""
	}
	if !isUse(r) {
		return r.Path
	}
	app := c.App()
	v, ok := routes.Load(app)
	if !ok {
		v, _ = routes.LoadOrStore(app, &appRoutes{})
	}
	ar := v.(*appRoutes)
	key := routeKey{from: r, method: c.Method(), path: c.Path()}
	ar.mu.Lock()
	defer ar.mu.Unlock()
	if n := app.HandlersCount(); n != ar.count || ar.found == nil || len(ar.found) >= maxCachedRoutes {
		ar.count = n
		ar.cfg = app.Config()
		ar.methods = ar.cfg.RequestMethods
		if len(ar.methods) == 0 {
			ar.methods = fiber.DefaultMethods
		}
		ar.found = make(map[routeKey]string)
	}
	if p, ok := ar.found[key]; ok {
		return p
	}
	p := ar.lookup(app, key)
	// The key's strings alias fasthttp buffers that are reused after the
	// request: keep copies.
	key.method, key.path = strings.Clone(key.method), strings.Clone(key.path)
	ar.found[key] = p
	return p
}

func (ar *appRoutes) lookup(app *fiber.App, key routeKey) string {
	m := -1
	for i, name := range ar.methods {
		if name == key.method {
			m = i
			break
		}
	}
	stack := app.Stack()
	if m < 0 || m >= len(stack) {
		return ""
	}
	after := false
	for _, r := range stack[m] {
		if !after {
			after = r == key.from
			continue
		}
		if isUse(r) || isMount(r) {
			continue
		}
		if fiber.RoutePatternMatch(key.path, r.Path, ar.cfg) {
			return r.Path
		}
	}
	return ""
}
