package idemhttp

import (
	"errors"
	"net/http"
	"sync"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// New returns the middleware with opts applied over the defaults (see the
// With… options of package core; the store defaults to the process-wide
// memory.Default()). It panics when an option is invalid, which surfaces
// at start-up; use NewE to get the error instead.
func New(opts ...core.Option) func(http.Handler) http.Handler {
	m, err := NewE(opts...)
	if err != nil {
		panic(err)
	}
	return m
}

// NewE is New returning the construction error instead of panicking.
func NewE(opts ...core.Option) (func(http.Handler) http.Handler, error) {
	e, err := core.New(append([]core.Option{core.WithStore(memory.Default())}, opts...)...)
	if err != nil {
		return nil, err
	}
	return Middleware(e), nil
}

// Middleware returns the middleware for an Engine you built yourself, e.g.
// to share one Engine between muxes or to call its Flush and Inspect.
// Build it with WithRoute when the middleware wraps a whole mux.
func Middleware(e *core.Engine) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			x := exchanges.Get().(*exchange)
			x.w, x.r, x.next = w, r, next
			if err := e.Serve(x); err != nil {
				refusedWithError(w, err)
			}
			x.reset()
			exchanges.Put(x)
		})
	}
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

// refusedWithError answers a refusal that an error responder returned as
// an error (core.ErrorResponder). net/http has no error handler to hand
// it to, so the client gets the problem's status (500 for other errors)
// with its status text; an error responder returning a core.Response
// renders refusals any other way. net/http handlers return no errors, so
// nothing else comes here.
func refusedWithError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var p *core.Problem
	if errors.As(err, &p) {
		status = p.Status
	}
	http.Error(w, http.StatusText(status), status)
}
