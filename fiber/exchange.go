package idemfiber

import (
	"context"
	"net/http"
	"strings"

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

func (v *view) Header(name string) []string {
	vals := v.c.Request().Header.PeekAll(name)
	if len(vals) == 0 {
		return nil
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = string(v)
	}
	return out
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
func (x *exchange) SetHeader(name string, values []string) {
	h := &x.c.Response().Header
	for i, v := range values {
		if i == 0 {
			h.Set(name, v)
		} else {
			h.Add(name, v)
		}
	}
}

func (x *exchange) Reply(status int, header http.Header, body []byte) {
	res := x.c.Response()
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
	x.c.Locals(core.ClaimContextKey, ctx) // c.Context() finds it too
	res := x.c.Response()
	x.snap.Reset()
	if x.visit == nil {
		x.visit = x.snapshotHeader // bound once per pooled exchange
	}
	res.Header.VisitAll(x.visit)
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
	h := make(http.Header)
	res.Header.VisitAll(func(k, v []byte) {
		name := http.CanonicalHeaderKey(string(k))
		h[name] = append(h[name], string(v))
	})
	capd.Header = h
	if body := res.Body(); len(body) > limit {
		capd.Oversize = true
	} else {
		capd.Body = body
	}
	return capd, err
}

func (x *exchange) Pass() error { return x.c.Next() }

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
