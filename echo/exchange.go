package idemecho

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idemkit/idempotency/core"
)

var _ core.Exchange = (*exchange)(nil)

// enteredKey marks an echo context that an idemkit middleware entered and
// then passed through (a missing optional key, failing open). While one
// runs the chain under a claim, the request's context carries the claim
// (core.ClaimContextKey) instead, so the common request needs no marker
// of its own (which would cost echo's context map on every request).
const enteredKey = "github.com/idemkit/idempotency/echo.entered"

// exchange maps one echo.Context to core.Exchange. It is pooled.
type exchange struct {
	c       echo.Context
	next    echo.HandlerFunc
	entered bool
	w       core.CaptureWriter // sits under echo.Response: see Next
	sink    responseSink
	snap    core.HeaderSnapshot
	body    core.RestoredBody
}

func (x *exchange) reset() {
	x.c, x.next, x.entered = nil, nil, false
	x.snap.Reset()
	x.body.Reset()
	x.w.ResponseWriter = nil
	x.sink = responseSink{}
}

// view is the read-only core.Request of an exchange: the same memory, a
// type without the exchange's methods, so that extension points cannot
// reach Next or Reply.
type view exchange

var _ core.Request = (*view)(nil)

func (x *exchange) Request() core.Request { return (*view)(x) }

func (v *view) Context() context.Context    { return v.c.Request().Context() }
func (v *view) Method() string              { return v.c.Request().Method }
func (v *view) Path() string                { return v.c.Request().URL.Path }
func (v *view) Route() string               { return routeOf(v.c) }
func (v *view) RawQuery() string            { return v.c.Request().URL.RawQuery }
func (v *view) Header(name string) []string { return v.c.Request().Header.Values(name) }
func (v *view) ClientIP() string            { return v.c.RealIP() }
func (v *view) Value(key string) any        { return v.c.Get(key) }

func (x *exchange) Body(limit int64) ([]byte, error) {
	return core.ReadBody(x.c.Request(), limit, &x.body)
}

// Enter reports false when an outer idemkit middleware entered this
// request: it runs the chain under its claim (Next installed the claim in
// the request's context), or passed the request through after entering
// (enteredKey).
func (x *exchange) Enter() bool {
	if x.c.Request().Context().Value(core.ClaimContextKey) != nil || x.c.Get(enteredKey) != nil {
		return false
	}
	x.entered = true
	return true
}

func (x *exchange) SetHeader(name string, values []string) { x.c.Response().Header()[name] = values }

func (x *exchange) Reply(status int, header http.Header, body []byte) {
	res := x.c.Response()
	h := res.Header()
	for k, v := range header {
		h[k] = v
	}
	res.WriteHeader(status)
	_, _ = res.Write(body)
}

// Next runs the chain. An error the handler returns is answered here,
// by Echo's HTTPErrorHandler (c.Error), so that its response is captured
// and treated like any other: a 4xx is stored and replayed, a 5xx
// releases the key (see core.Exchange.Next). The error is then answered
// and not returned again.
func (x *exchange) Next(ctx context.Context, limit int) (core.Captured, error) {
	x.c.SetRequest(x.c.Request().WithContext(ctx))
	res := x.c.Response()
	orig := res.Writer
	x.w.ResponseWriter = orig
	x.sink = responseSink{res: res, w: orig}
	x.w.Start(ctx, limit, &x.sink)
	x.snap.Take(res.Header())
	x.w.Outer(&x.snap)
	res.Writer = &x.w
	defer func() {
		res.Writer = orig
		if x.w.HeldStarted() {
			// Nothing was sent yet: echo.Response must say so until the
			// Engine sends (x.sink commits it), so that Echo's error
			// handling answers when the Engine drops the response.
			res.Committed = false
		}
	}()
	if err := x.next(x.c); err != nil {
		x.c.Error(err)
	}
	capd := x.w.Captured(res.Status, res.Header())
	if x.snap.Len() > 0 {
		capd.Outer = &x.snap
	}
	return capd, nil
}

func (x *exchange) Pass() error {
	if x.entered { // entered, then passed through: inner ones pass too
		x.c.Set(enteredKey, true)
	}
	return x.next(x.c)
}

// responseSink is where the Engine sends a held response: the writer
// under echo.Response, keeping echo.Response's status, size and
// Committed in step, so that Echo (its error handler after a panic, a
// logger) sees what the client got and writes nothing after it.
type responseSink struct {
	res *echo.Response
	w   http.ResponseWriter
}

func (s *responseSink) Header() http.Header { return s.w.Header() }

func (s *responseSink) WriteHeader(code int) {
	// Size restarts: echo.Response counted the held body as the handler
	// wrote it, and what the client gets is what the sink writes (that
	// body, or the problem that replaces it).
	s.res.Status, s.res.Committed, s.res.Size = code, true, 0
	s.w.WriteHeader(code)
}

func (s *responseSink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.res.Size += int64(n)
	return n, err
}
