package core_test

import (
	"context"
	"net/http"

	"github.com/idemkit/idempotency/core"
)

// fakeExchange is a core.Exchange without a framework, so that the
// Engine's protocol is tested on its own: the request is whatever its
// fields say, the handler is a function, and every call the Engine makes
// is recorded. It behaves as the adapters do where it matters to the
// protocol: Body returns ErrBodyTooLarge past the limit, SetHeader writes
// to the response before the chain runs, Next snapshots the headers
// already set (outer middleware's and SetHeader's) and captures the body
// through core.BodyCapture, and Reply merges into the response header.
type fakeExchange struct {
	// The request. Zero values read as empty (no route: unmatched).
	method, path, route, query string
	header                     http.Header
	ip                         string
	values                     map[string]any
	ctx                        context.Context
	body                       []byte
	bodyErr                    error // returned by Body instead of the body
	entered                    bool  // another idempotency middleware entered first
	// outer holds the response headers outer middleware set before the
	// idempotency middleware ran (a request id, CORS).
	outer http.Header
	// handler is the rest of the chain; nil answers 201 "created".
	handler fakeHandler

	// What happened, as the client would see it.
	status   int
	respHdr  http.Header
	respBody []byte

	// What the Engine did.
	replies    []fakeReply
	setHeaders []string // names passed to SetHeader, in order
	passes     int      // Pass calls
	runs       int      // handler runs, through Next or Pass
}

// fakeHandler is the rest of the chain: it writes to w as a framework
// handler would, and may return an error or panic.
type fakeHandler func(ctx context.Context, w *fakeWriter) error

// fakeReply is one Reply call.
type fakeReply struct {
	status int
	header http.Header
	body   []byte
}

var _ core.Exchange = (*fakeExchange)(nil)

// fakeView is fakeExchange's read-only core.Request: the same memory, a
// distinct type without the exchange's methods, as adapters do.
type fakeView fakeExchange

var _ core.Request = (*fakeView)(nil)

func (v *fakeView) Context() context.Context {
	if v.ctx == nil {
		return context.Background()
	}
	return v.ctx
}
func (v *fakeView) Method() string              { return v.method }
func (v *fakeView) Path() string                { return v.path }
func (v *fakeView) Route() string               { return v.route }
func (v *fakeView) RawQuery() string            { return v.query }
func (v *fakeView) Header(name string) []string { return v.header.Values(name) }
func (v *fakeView) ClientIP() string            { return v.ip }
func (v *fakeView) Value(key string) any        { return v.values[key] }

func (x *fakeExchange) Request() core.Request { return (*fakeView)(x) }

func (x *fakeExchange) Body(limit int64) ([]byte, error) {
	if x.bodyErr != nil {
		return nil, x.bodyErr
	}
	if int64(len(x.body)) > limit {
		return nil, core.ErrBodyTooLarge
	}
	return x.body, nil
}

func (x *fakeExchange) Enter() bool {
	if x.entered {
		return false
	}
	x.entered = true
	return true
}

// response returns the response header, starting from the outer
// middleware's.
func (x *fakeExchange) response() http.Header {
	if x.respHdr == nil {
		x.respHdr = x.outer.Clone()
		if x.respHdr == nil {
			x.respHdr = http.Header{}
		}
	}
	return x.respHdr
}

func (x *fakeExchange) SetHeader(name string, values []string) {
	x.setHeaders = append(x.setHeaders, name)
	x.response()[name] = values
}

func (x *fakeExchange) Reply(status int, header http.Header, body []byte) {
	x.replies = append(x.replies, fakeReply{status, header.Clone(), append([]byte(nil), body...)})
	h := x.response()
	for k, v := range header {
		h[k] = v
	}
	x.status, x.respBody = status, body
}

func (x *fakeExchange) Next(ctx context.Context, limit int) (core.Captured, error) {
	var snap core.HeaderSnapshot
	snap.Take(x.response()) // after SetHeader, as the adapters take it
	w := &fakeWriter{header: x.response(), limit: limit}
	w.capture.Start(ctx, limit, fakeClient{x})
	err := x.run(ctx, w)
	capd := w.capture.Captured(w.status, w.header)
	if snap.Len() > 0 {
		capd.Outer = &snap
	}
	return capd, err
}

func (x *fakeExchange) Pass() error {
	w := &fakeWriter{header: x.response()}
	w.capture.Start(context.Background(), 0, fakeClient{x})
	x.passes++
	return x.run((*fakeView)(x).Context(), w)
}

// run runs the handler; a panic propagates, as Exchange.Next requires.
func (x *fakeExchange) run(ctx context.Context, w *fakeWriter) error {
	x.runs++
	defer func() { x.status, x.respBody = w.sent, w.body }()
	h := x.handler
	if h == nil {
		h = respond(http.StatusCreated, "created")
	}
	return h(ctx, w)
}

// fakeWriter is the response writer a fakeHandler writes to: everything
// is delivered (body) and captured up to the Engine's limit, unless the
// response is held for a transaction (core.HoldResponse): then the Engine
// delivers it later, through fakeClient.
type fakeWriter struct {
	header  http.Header
	status  int // the handler's
	sent    int // the status delivered to the client, 0 while held
	body    []byte
	limit   int // the Engine's capture limit (0 in Pass)
	capture core.BodyCapture
}

var _ http.Flusher = (*fakeWriter)(nil)

func (w *fakeWriter) Header() http.Header { return w.header }

func (w *fakeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		if !w.capture.KeepStatus() {
			w.sent = status
		}
	}
}

func (w *fakeWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.capture.Keep(p) {
		return len(p), nil
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// Flush streams the response: it is delivered and never stored.
func (w *fakeWriter) Flush() { w.capture.Streamed() }

// fakeClient is where a held response is delivered: the exchange's
// response, as the client sees it.
type fakeClient struct{ x *fakeExchange }

func (c fakeClient) Header() http.Header    { return c.x.response() }
func (c fakeClient) WriteHeader(status int) { c.x.status = status }
func (c fakeClient) Write(p []byte) (int, error) {
	c.x.respBody = append(c.x.respBody, p...)
	return len(p), nil
}

// respond is a handler answering status with body and the given header
// pairs: a name's first pair replaces what the header held (an outer
// middleware's value), later ones add to it.
func respond(status int, body string, headers ...string) fakeHandler {
	return func(_ context.Context, w *fakeWriter) error {
		set := map[string]bool{}
		for i := 0; i+1 < len(headers); i += 2 {
			if name := headers[i]; set[name] {
				w.Header().Add(name, headers[i+1])
			} else {
				w.Header().Set(name, headers[i+1])
				set[name] = true
			}
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return nil
	}
}

// captured is a handler that writes what c describes, for tests that
// think in terms of core.Captured: Streamed flushes, Oversize writes one
// byte past the Engine's capture limit.
func captured(c core.Captured) fakeHandler {
	return func(_ context.Context, w *fakeWriter) error {
		for k, v := range c.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(c.Status)
		if c.Streamed {
			w.Flush()
		}
		body := c.Body
		if c.Oversize {
			body = make([]byte, w.limit+1)
		}
		_, _ = w.Write(body)
		return nil
	}
}

// newPost is a POST to the route /items/:id with an Idempotency-Key
// (none when key is ""), a JSON body and handler h (nil: 201 "created").
func newPost(key, body string, h fakeHandler) *fakeExchange {
	x := &fakeExchange{
		method: http.MethodPost, path: "/items/1", route: "/items/:id",
		header: http.Header{"Content-Type": {"application/json"}},
		ip:     "192.0.2.1", body: []byte(body), handler: h,
	}
	if key != "" {
		x.header.Set(core.DefaultHeaderName, key)
	}
	return x
}

// The builders below tweak one request of a table row; each returns x.

// as sets the method.
func (x *fakeExchange) as(method string) *fakeExchange { x.method = method; return x }

// at sets the matched route pattern and the concrete path ("" route:
// the framework matched none).
func (x *fakeExchange) at(route, path string) *fakeExchange {
	x.route, x.path = route, path
	return x
}

// handle sets the handler.
func (x *fakeExchange) handle(h fakeHandler) *fakeExchange { x.handler = h; return x }

// by sets the authenticated user, as an auth middleware stores it under
// the context key "user".
func (x *fakeExchange) by(user string) *fakeExchange {
	x.values = map[string]any{"user": user}
	return x
}

// from sets the client address.
func (x *fakeExchange) from(ip string) *fakeExchange { x.ip = ip; return x }

// withQuery sets the raw query.
func (x *fakeExchange) withQuery(q string) *fakeExchange { x.query = q; return x }

// withHeader sets every value of a request header.
func (x *fakeExchange) withHeader(name string, vals ...string) *fakeExchange {
	x.header[http.CanonicalHeaderKey(name)] = vals
	return x
}

// withOuter sets a response header as outer middleware would before the
// idempotency middleware runs.
func (x *fakeExchange) withOuter(name, val string) *fakeExchange {
	if x.outer == nil {
		x.outer = http.Header{}
	}
	x.outer.Set(name, val)
	return x
}
