package idemgin

import (
	"errors"
	"net/http"
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
		if err := e.Serve(x); err != nil {
			refusedWithError(c, err)
		}
		x.reset()
		exchanges.Put(x)
	}
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// refusedWithError hands a refusal that an error responder returned as an
// error (core.ErrorResponder) to gin's error handling: the error goes to
// c.Errors for an outer middleware to render, and the request is aborted
// with the problem's status (500 for other errors), which that middleware
// may still replace since nothing has been written. Gin handlers' own
// errors never come here: they go through c.Error, not returns.
func refusedWithError(c *gin.Context, err error) {
	_ = c.Error(err)
	status := http.StatusInternalServerError
	var p *core.Problem
	if errors.As(err, &p) {
		status = p.Status
	}
	// c.Status, not AbortWithStatus: AbortWithStatus writes the header at
	// once, which would freeze the status and drop the headers (its
	// Content-Type) of an outer middleware rendering c.Errors. Gin writes
	// the status itself when the chain ends and nobody wrote.
	c.Status(status)
	c.Abort()
}
