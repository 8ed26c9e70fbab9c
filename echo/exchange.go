package idemecho

import (
	"bufio"
	"context"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/idemkit/idempotency/core"
)

var _ core.Exchange = (*exchange)(nil)

const enteredKey = "github.com/idemkit/idempotency/echo.entered"

// exchange maps one echo.Context to core.Exchange. It is pooled.
type exchange struct {
	c    echo.Context
	next echo.HandlerFunc
	w    captureWriter
	snap core.HeaderSnapshot
	body core.RestoredBody
}

func (x *exchange) reset() {
	x.c, x.next = nil, nil
	x.snap.Reset()
	x.body = core.RestoredBody{}
	x.w.ResponseWriter = nil
}

func (x *exchange) Context() context.Context    { return x.c.Request().Context() }
func (x *exchange) Method() string              { return x.c.Request().Method }
func (x *exchange) Path() string                { return x.c.Request().URL.Path }
func (x *exchange) Route() string               { return routeOf(x.c) }
func (x *exchange) RawQuery() string            { return x.c.Request().URL.RawQuery }
func (x *exchange) Header(name string) []string { return x.c.Request().Header.Values(name) }
func (x *exchange) ClientIP() string            { return x.c.RealIP() }
func (x *exchange) Value(key string) any        { return x.c.Get(key) }
func (x *exchange) Body(limit int64) ([]byte, error) {
	return core.ReadBody(x.c.Request(), limit, &x.body)
}

func (x *exchange) Enter() bool {
	if x.c.Get(enteredKey) != nil {
		return false
	}
	x.c.Set(enteredKey, true)
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
	x.w.Start(limit)
	x.snap.Take(res.Header())
	res.Writer = &x.w
	defer func() { res.Writer = orig }()
	if err := x.next(x.c); err != nil {
		x.c.Error(err)
	}
	capd := x.w.Captured(res.Status, res.Header())
	if x.snap.Len() > 0 {
		capd.Outer = &x.snap
	}
	return capd, nil
}

func (x *exchange) Pass() error { return x.next(x.c) }

// captureWriter sits under echo.Response: it passes everything through and
// keeps a copy of the body. Flush and Hijack mark the response as streamed.
type captureWriter struct {
	http.ResponseWriter
	core.BodyCapture
}

func (w *captureWriter) Write(b []byte) (int, error) {
	w.Keep(b)
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) Flush() {
	w.Streamed()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.Streamed()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
