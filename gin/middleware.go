package idemgin

import (
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// New returns the middleware with opts applied over the defaults (see the
// With… options of package core; the store defaults to the process-wide
// memory.Default()). It panics when an option is invalid, which surfaces
// at start-up; use NewE to get the error instead.
func New(opts ...core.Option) gin.HandlerFunc {
	h, err := NewE(opts...)
	if err != nil {
		panic(err)
	}
	return h
}

// NewE is New returning the construction error instead of panicking.
func NewE(opts ...core.Option) (gin.HandlerFunc, error) {
	e, err := core.New(append([]core.Option{core.WithStore(memory.Default())}, opts...)...)
	if err != nil {
		return nil, err
	}
	return Middleware(e), nil
}

// Middleware returns the middleware for an Engine you built yourself, e.g.
// to share one Engine between routers or to call its Flush and Inspect.
func Middleware(e *core.Engine) gin.HandlerFunc {
	return func(c *gin.Context) {
		x := exchanges.Get().(*exchange)
		x.c = c
		_ = e.Serve(x) // gin handlers report errors through c.Errors, not returns
		x.reset()
		exchanges.Put(x)
	}
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// UserFrom returns an option that reads the user for the user scopes from
// the gin context, e.g. idemgin.UserFrom(func(c *gin.Context) string {
// return c.GetString("user_id") }).
func UserFrom(f func(c *gin.Context) string) core.Option {
	return core.WithUserResolver(func(ex core.Exchange) string {
		if x, ok := ex.(*exchange); ok {
			return f(x.c)
		}
		return ""
	})
}

// Context returns the *gin.Context behind an Exchange, for custom skip
// functions, key extractors and scope resolvers; nil for other exchanges.
func Context(ex core.Exchange) *gin.Context {
	if x, ok := ex.(*exchange); ok {
		return x.c
	}
	return nil
}
