package core

import (
	"context"
	"net/http"
)

// Exchange is one HTTP request as a framework adapter presents it to the
// Engine. Adapters implement it as a thin mapping of their framework's
// context; every decision is taken by the Engine.
type Exchange interface {
	// Context is the request's context; store calls use it.
	Context() context.Context
	// Method is the request method, upper case.
	Method() string
	// Path is the concrete request path, e.g. /payments/42.
	Path() string
	// Route is the matched route pattern, e.g. /payments/:id, or "" when
	// the framework matched none.
	Route() string
	// RawQuery is the undecoded query string without '?'.
	RawQuery() string
	// Header returns every value of the named request header.
	Header(name string) []string
	// ClientIP is the client address as the framework resolves it.
	ClientIP() string
	// Value returns a value that earlier middleware stored in the
	// framework's context (gin's c.Get, echo's c.Get, fiber's c.Locals).
	Value(key string) any
	// Body returns the whole request body, at most limit bytes, and makes
	// it readable again for the handler. It returns ErrBodyTooLarge when
	// the body is longer than limit.
	Body(limit int64) ([]byte, error)

	// Enter marks the request as handled by an idempotency middleware. It
	// returns false when another one already entered, so that stacked
	// instances never claim one request twice.
	Enter() bool
	// SetHeader sets a response header before the handler runs. name is
	// canonical; values is shared and must not be modified.
	SetHeader(name string, values []string)
	// Reply writes a complete response (a replay or a problem).
	Reply(status int, header http.Header, body []byte)
	// Next runs the rest of the chain and captures what it wrote, keeping
	// at most limit body bytes. Panics propagate to the caller.
	Next(limit int) (Captured, error)
	// Pass runs the rest of the chain untouched.
	Pass() error
}

// Captured is what the handler wrote, as seen by the adapter.
type Captured struct {
	Status int
	// Header is the response header as the handler left it.
	Header http.Header
	// Body holds the response body when it fit in the capture limit.
	Body []byte
	// Oversize is true when the body exceeded the capture limit.
	Oversize bool
	// Streamed is true when the handler flushed, hijacked or streamed.
	Streamed bool
}

// Response is a stored response, as replayed.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}
