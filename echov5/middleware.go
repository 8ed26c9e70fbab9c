package idemecho

import (
	"sync"

	"github.com/labstack/echo/v5"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// New returns the middleware with opts applied over the defaults (the
// store defaults to the process-wide memory.Default()). It panics on an
// invalid option, at start-up; NewE returns the error instead.
func New(opts ...core.Option) echo.MiddlewareFunc {
	m, err := NewE(opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// NewE is New returning the construction error instead of panicking.
func NewE(opts ...core.Option) (echo.MiddlewareFunc, error) {
	e, err := core.New(append([]core.Option{core.WithStore(memory.Default())}, opts...)...)
	if err != nil {
		return nil, err
	}
	return Middleware(e), nil
}

// Middleware returns the middleware for an Engine you built yourself.
func Middleware(e *core.Engine) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			x := exchanges.Get().(*exchange)
			x.c, x.next = c, next
			err := e.Serve(x)
			x.reset()
			exchanges.Put(x)
			return err
		}
	}
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}
