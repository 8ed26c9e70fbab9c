package idemgin

import (
	"bufio"
	"context"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
)

var _ core.Exchange = (*exchange)(nil)

// enteredKey marks a gin context that an idemkit middleware entered and
// then passed through (a missing optional key, failing open). While one
// runs the chain under a claim, core.ClaimContextKey (set by Next) marks
// it instead, so the common request needs no marker of its own (which
// would cost gin's c.Keys map, two allocations, on every request).
const enteredKey = "github.com/idemkit/idempotency/gin.entered"

// exchange maps one *gin.Context to core.Exchange. It is pooled.
type exchange struct {
	c       *gin.Context
	entered bool
	w       captureWriter
	snap    core.HeaderSnapshot
	body    core.RestoredBody
}

func (x *exchange) reset() {
	x.c, x.entered = nil, false
	x.snap.Reset()
	x.body.Reset()
	x.w.ResponseWriter = nil
}

// view is the read-only core.Request of an exchange: the same memory, a
// type without the exchange's methods, so that extension points cannot
// reach Next or Reply.
type view exchange

var _ core.Request = (*view)(nil)

func (x *exchange) Request() core.Request { return (*view)(x) }

func (v *view) Context() context.Context    { return v.c.Request.Context() }
func (v *view) Method() string              { return v.c.Request.Method }
func (v *view) Path() string                { return v.c.Request.URL.Path }
func (v *view) Route() string               { return v.c.FullPath() }
func (v *view) RawQuery() string            { return v.c.Request.URL.RawQuery }
func (v *view) Header(name string) []string { return v.c.Request.Header.Values(name) }
func (v *view) ClientIP() string            { return v.c.ClientIP() }

func (v *view) Value(key string) any {
	x, _ := v.c.Get(key)
	return x
}

func (x *exchange) Body(limit int64) ([]byte, error) {
	return core.ReadBody(x.c.Request, limit, &x.body)
}

// Enter reports false when an outer idemkit middleware entered this gin
// context: it runs the chain under its claim (Next set the claim in
// c.Keys), or passed the request through after entering (enteredKey).
func (x *exchange) Enter() bool {
	if _, ok := x.c.Get(core.ClaimContextKey); ok {
		return false
	}
	if _, ok := x.c.Get(enteredKey); ok {
		return false
	}
	x.entered = true
	return true
}

func (x *exchange) SetHeader(name string, values []string) { x.c.Writer.Header()[name] = values }

func (x *exchange) Reply(status int, header http.Header, body []byte) {
	h := x.c.Writer.Header()
	for k, v := range header {
		h[k] = v
	}
	x.c.Writer.WriteHeader(status)
	_, _ = x.c.Writer.Write(body)
	x.c.Abort()
}

// Next runs the chain. A Gin handler reports errors through c.Error or
// c.AbortWithError, having written its response (AbortWithError writes
// the status): that response is captured like any other, which is the
// rule every adapter follows (see core.Exchange.Next).
func (x *exchange) Next(ctx context.Context, limit int) (core.Captured, error) {
	x.c.Request = x.c.Request.WithContext(ctx)
	x.c.Set(core.ClaimContextKey, ctx) // a *gin.Context passed as the context finds it too
	orig := x.c.Writer
	x.w.ResponseWriter = orig
	x.w.Start(ctx, limit, orig)
	x.snap.Take(orig.Header())
	x.c.Writer = &x.w
	defer func() { x.c.Writer = orig }()
	x.c.Next()
	capd := x.w.Captured(orig.Status(), orig.Header())
	if x.snap.Len() > 0 {
		capd.Outer = &x.snap
	}
	return capd, nil
}

func (x *exchange) Pass() error {
	if x.entered { // entered, then passed through: inner ones pass too
		x.c.Set(enteredKey, true)
	}
	x.c.Next()
	return nil
}

// captureWriter passes everything through to Gin's writer and keeps a copy
// of the body. Flushing or hijacking marks the response as streamed.
// While the response is held for a transaction (core.HoldResponse)
// nothing is passed on: gin's WriteHeader only records the status, and
// the Engine sends the whole response to Gin's writer once committed.
type captureWriter struct {
	gin.ResponseWriter
	core.BodyCapture
}

func (w *captureWriter) Write(b []byte) (int, error) {
	if w.Keep(b) {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *captureWriter) WriteString(s string) (int, error) {
	if w.KeepString(s) {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

func (w *captureWriter) WriteHeaderNow() {
	if w.KeepStatus() {
		return
	}
	w.ResponseWriter.WriteHeaderNow()
}

func (w *captureWriter) Flush() {
	if w.Streamed() {
		return
	}
	w.ResponseWriter.Flush()
}

func (w *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.Streamed() {
		return nil, nil, core.ErrResponseHeld
	}
	return w.ResponseWriter.Hijack()
}
