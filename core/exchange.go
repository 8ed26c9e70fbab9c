package core

import (
	"context"
	"net/http"
)

// Request is the read-only view of one HTTP request that extension points
// receive: skip functions, key extractors, scope resolvers, user
// resolvers and error responders. It can read the request but neither
// run the handler nor write a response, and a Request is never also an
// Exchange, so a custom key extractor cannot call Next.
//
// A Request is valid only during the call it is passed to: adapters pool
// and reuse it, so keep what you need from it (a header value, the
// route), never the Request itself.
//
// Framework adapters give typed access to their own context behind a
// Request (idemgin.Context, idemecho.Context, idemfiber.Context) and
// typed options built on it (WithSkipper, WithUserGetter,
// WithScopeGetter, WithKeyGetter).
type Request interface {
	// Context is the request's context; store calls use it.
	Context() context.Context
	// Method is the request method, upper case.
	Method() string
	// Path is the concrete request path, e.g. /payments/42.
	Path() string
	// Route is the pattern of the route the framework matched for this
	// request, e.g. /payments/:id, even under a global or group
	// middleware, or "" when it matched none: the Engine then passes the
	// request through untouched.
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
}

// Exchange is one HTTP request as a framework adapter presents it to the
// Engine: the read-only Request, plus the operations that only the Engine
// may perform (read the body, run the handler, write a response).
// Adapters implement it as a thin mapping of their framework's context;
// every decision is taken by the Engine. Users never implement it, and
// extension points never see it.
type Exchange interface {
	// Request returns the read-only view of the request. It must not
	// itself implement Exchange (adapters return a distinct type), and
	// should not allocate: the Engine calls it once per request.
	Request() Request
	// Body returns the whole request body, at most limit bytes, and makes
	// it readable again for the handler. It returns ErrBodyTooLarge when
	// the body is longer than limit.
	Body(limit int64) ([]byte, error)
	// Enter marks the request as handled by an idempotency middleware. It
	// returns false when another one already entered, so that stacked
	// instances never claim one request twice.
	Enter() bool
	// SetHeader sets a response header before the handler runs, or
	// before Reply (a replay sets its stored headers so). name is
	// canonical; values is shared and must not be modified, and may
	// alias a stored record: keep the slice, never copy into it.
	SetHeader(name string, values []string)
	// Reply writes a complete response (a replay or a problem), with
	// header (nil for none) set on top of what SetHeader set.
	Reply(status int, header http.Header, body []byte)
	// Next runs the rest of the chain with ctx as the request's context
	// and captures what it wrote, keeping at most limit body bytes. ctx
	// carries the claim (DeclareEffects, DerivedKey): the adapter installs
	// it where its framework's handlers take their context from (the
	// http.Request, fiber's UserContext) and stores it under
	// ClaimContextKey in the framework's own context where that context is
	// itself a context.Context (gin's c.Set, fiber's c.Locals). It returns
	// the handler's error, for frameworks whose handlers return one.
	// Panics propagate to the caller.
	//
	// So that a TxStore's transaction can hold the response back until it
	// commits (HoldResponse), an adapter whose framework writes through
	// an http.ResponseWriter captures with a BodyCapture started with ctx
	// and obeys what its Keep methods return; one whose framework sends
	// nothing before the chain returns (fasthttp) calls
	// BufferedResponse(ctx) instead, and Reply then replaces the
	// handler's response, its headers included. An adapter doing neither
	// makes HoldResponse fail with ErrHoldUnsupported.
	Next(ctx context.Context, limit int) (Captured, error)
	// Pass runs the rest of the chain untouched.
	Pass() error
}

// Response is a stored response, as replayed.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}
