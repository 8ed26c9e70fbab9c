package idemfiber

import (
	"sync"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// New returns the middleware with opts applied over the defaults (the
// store defaults to the process-wide memory.Default()). It panics on an
// invalid option, at start-up; NewE returns the error instead.
func New(opts ...core.Option) fiber.Handler {
	h, err := NewE(opts...)
	if err != nil {
		panic(err)
	}
	return h
}

// NewE is New returning the construction error instead of panicking.
func NewE(opts ...core.Option) (fiber.Handler, error) {
	e, err := core.New(append([]core.Option{core.WithStore(memory.Default())}, opts...)...)
	if err != nil {
		return nil, err
	}
	return Middleware(e), nil
}

// Middleware returns the middleware for an Engine you built yourself.
func Middleware(e *core.Engine) fiber.Handler {
	return func(c fiber.Ctx) error {
		x := exchanges.Get().(*exchange)
		x.c = c
		err := e.Serve(x)
		x.reset()
		x.snap.Reset()
		exchanges.Put(x)
		return err
	}
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}
