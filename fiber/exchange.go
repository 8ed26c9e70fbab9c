package idemfiber

import (
	"context"
	"net/http"
	"strings"
	"unsafe"

	"github.com/gofiber/fiber/v2"

	"github.com/idemkit/idempotency/core"
)

var _ core.Exchange = (*exchange)(nil)

const enteredKey = "github.com/idemkit/idempotency/fiber.entered"

// exchange maps one *fiber.Ctx to core.Exchange. It is pooled.
type exchange struct {
	c     *fiber.Ctx
	snap  core.HeaderSnapshot
	visit func(k, v []byte) // x.snapshotHeader
	// lines and line capture the response header for the Engine (see
	// captureLine); vals holds the request header values Header returns.
	lines []core.HeaderLine
	line  func(k, v []byte) // x.captureLine
	vals  []string
	ran   bool // Next ran the chain: the response holds the handler's headers
}

// reset forgets the request, keeping the exchange's buffers.
func (x *exchange) reset() {
	x.c, x.ran = nil, false
	clear(x.lines)
	clear(x.vals)
	x.lines, x.vals = x.lines[:0], x.vals[:0]
}

// view is the read-only core.Request of an exchange: the same memory, a
// type without the exchange's methods, so that extension points cannot
// reach Next or Reply.
type view exchange

var _ core.Request = (*view)(nil)

func (x *exchange) Request() core.Request { return (*view)(x) }

func (v *view) Context() context.Context { return v.c.UserContext() }

// Method returns a string that outlives the request: unless Fiber runs
// with Immutable, c.Method aliases a buffer fasthttp reuses, and the
// engine hands the method to telemetry (metric labels) and alerts.
func (v *view) Method() string {
	switch m := v.c.Method(); m {
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "GET":
		return "GET"
	default:
		return strings.Clone(m)
	}
}

// Path copies: fasthttp reuses its buffers after the request, and the
// engine may keep the path in events.
func (v *view) Path() string     { return string(v.c.Request().URI().Path()) }
func (v *view) RawQuery() string { return string(v.c.Request().URI().QueryString()) }
func (v *view) ClientIP() string { return v.c.IP() }

// Route returns the matched route's pattern, also under app.Use or a
// Group (see routeOf). The pattern is a string Fiber keeps for the app's
// life, so it outlives the request.
func (v *view) Route() string { return routeOf(v.c) }

// Header copies each value (a caller may keep a value, never the slice,
// see core.Request); the slice is carved from the exchange's own, which
// lives as long as the request.
func (v *view) Header(name string) []string {
	vals := v.c.Request().Header.PeekAll(name)
	if len(vals) == 0 {
		return nil
	}
	start := len(v.vals)
	for _, b := range vals {
		v.vals = append(v.vals, string(b))
	}
	return v.vals[start:len(v.vals):len(v.vals)]
}

func (v *view) Value(key string) any { return v.c.Locals(key) }

// Body returns fasthttp's already-read body; it stays readable for the
// handler, so nothing needs restoring.
func (x *exchange) Body(limit int64) ([]byte, error) {
	b := x.c.Body()
	if int64(len(b)) > limit {
		return nil, core.ErrBodyTooLarge
	}
	return b, nil
}

func (x *exchange) Enter() bool {
	if x.c.Locals(enteredKey) != nil {
		return false
	}
	x.c.Locals(enteredKey, true)
	return true
}

// SetHeader sets every value as a header line of its own (c.Append would
// join them into one comma-separated line, which a replay must not do).
// name is canonical already, so the first value skips fasthttp's
// normalising copy of the name (SetCanonical copies name and value).
func (x *exchange) SetHeader(name string, values []string) {
	h := &x.c.Response().Header
	for i, v := range values {
		if i == 0 {
			h.SetCanonical(bytesOf(name), bytesOf(v))
		} else {
			h.Add(name, v)
		}
	}
}

func (x *exchange) Reply(status int, header http.Header, body []byte) {
	res := x.c.Response()
	if x.ran {
		// A reply after the handler ran replaces its response (its
		// transaction did not commit): none of its headers may go out.
		x.dropHandlerHeaders()
	}
	for k, vals := range header {
		for i, v := range vals {
			if i == 0 {
				res.Header.Set(k, v)
			} else {
				res.Header.Add(k, v)
			}
		}
	}
	res.SetStatusCode(status)
	res.SetBodyRaw(body)
}

// Next runs the chain. An error the handler returns is answered here, by
// the app's ErrorHandler, so that its response is captured and treated
// like any other: a 4xx is stored and replayed, a 5xx releases the key
// (see core.Exchange.Next).
func (x *exchange) Next(ctx context.Context, limit int) (core.Captured, error) {
	x.c.SetUserContext(ctx)
	core.BufferedResponse(ctx)            // fasthttp sends nothing before the chain returns
	x.c.Locals(core.ClaimContextKey, ctx) // c.Context() finds it too
	res := x.c.Response()
	x.snap.Reset()
	if x.visit == nil {
		x.visit = x.snapshotHeader // bound once per pooled exchange
	}
	//lint:ignore SA1019 fiber v2 requires fasthttp v1.51, which has no All; the workspace builds it with v1.69
	res.Header.VisitAll(x.visit)
	x.ran = true
	err := x.c.Next()
	if err != nil {
		if herr := x.c.App().ErrorHandler(x.c, err); herr == nil {
			err = nil
		}
	}
	capd := core.Captured{Status: res.StatusCode()}
	if x.snap.Len() > 0 {
		capd.Outer = &x.snap
	}
	if res.IsBodyStream() {
		capd.Streamed = true
		return capd, err
	}
	if x.line == nil {
		x.line = x.captureLine
	}
	x.lines = x.lines[:0]
	//lint:ignore SA1019 fiber v2 requires fasthttp v1.51, which has no All; the workspace builds it with v1.69
	res.Header.VisitAll(x.line)
	capd.Lines = x.lines
	if body := res.Body(); len(body) > limit {
		capd.Oversize = true
	} else {
		capd.Body = body
	}
	return capd, err
}

func (x *exchange) Pass() error { return x.c.Next() }

// captureLine records one response header line for the Engine without
// copying it (see core.HeaderLineOf): fasthttp's buffers hold still
// until the Engine has encoded the lines, before Serve returns.
func (x *exchange) captureLine(k, v []byte) {
	x.lines = append(x.lines, core.HeaderLineOf(k, v))
}

// bytesOf views s as bytes, for fasthttp calls that copy them.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// dropHandlerHeaders deletes the response headers the chain set or
// changed since Next took its snapshot, cookies included: those outer
// middleware set stay, as does the Engine's Idempotency-Status.
func (x *exchange) dropHandlerHeaders() {
	h := &x.c.Response().Header
	var drop []string
	//lint:ignore SA1019 fiber v2 requires fasthttp v1.51, which has no All; the workspace builds it with v1.69
	h.VisitAll(func(k, _ []byte) {
		name := http.CanonicalHeaderKey(string(k))
		if snapshotSkips([]byte(name)) {
			return
		}
		var vals []string
		for _, v := range h.PeekAll(name) {
			vals = append(vals, string(v))
		}
		if !x.snap.Unchanged(name, vals) {
			drop = append(drop, name)
		}
	})
	for _, name := range drop {
		h.Del(name)
	}
	h.DelAllCookies()
}

// snapshotHeader records one response header present before the chain
// runs. fasthttp reports its default Content-Type (and Server) before
// anyone set them; storing those unchanged is harmless, and skipping them
// keeps the snapshot free for the common request. Idempotency-Status is
// the Engine's own, never stored.
func (x *exchange) snapshotHeader(k, v []byte) {
	if !snapshotSkips(k) {
		x.snap.Add(http.CanonicalHeaderKey(string(k)), string(v))
	}
}

func snapshotSkips(k []byte) bool {
	switch string(k) { // no allocation: the conversion only feeds the switch
	case "Content-Type", "Server", "Date", "Content-Length", "Idempotency-Status":
		return true
	}
	return false
}
