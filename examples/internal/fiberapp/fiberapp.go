// Package fiberapp maps the example API (package shop) to Fiber: the
// handlers, the request-id and X-User-ID middleware, the app's config and
// panic recovery. The Fiber server (examples/fiber/main.go) wires them
// with the idemfiber middleware for its readers to see; New wires them
// the same way for the demo (examples/demo) and the tests, which cannot
// import a main package.
package fiberapp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemfiber "github.com/idemkit/idempotency/fiber"
)

// BodyLimit is the app's fiber.Config.BodyLimit. fasthttp reads whole
// bodies before any handler runs and refuses larger ones itself (413,
// plain text), so it sits above the engine's MaxBodyBytes (10 MiB): up to
// BodyLimit, an oversized body gets the same 413 problem+json from the
// idempotency middleware as on Gin and Echo. Fiber's default, 4 MiB,
// would pre-empt it.
const BodyLimit = 16 << 20

// ErrorWriter receives the stack trace of a recovered panic, as
// gin.DefaultErrorWriter does for Gin. Tests set it to io.Discard.
var ErrorWriter io.Writer = os.Stderr

// New returns the Fiber app of the example API on store, counting
// executions in s, as examples/fiber wires it (see newApp there), for the
// demo and the tests, which cannot import a main package. extra options
// (e.g. core.WithTelemetry) apply to every route's middleware before the
// route's own settings (shop.Options). An invalid option is returned as
// an error. examples/fiber's tests hold its wiring to the same behaviour
// (apptest) and routes.
func New(store core.Store, s *shop.Shop, extra ...core.Option) (*fiber.App, error) {
	if store == nil {
		return nil, errors.New("fiberapp: nil store")
	}
	if s == nil {
		return nil, errors.New("fiberapp: nil shop")
	}
	app := fiber.New(Config())
	app.Use(RequestID(), Recover(), User())
	for _, rt := range shop.Routes() {
		h := Handler(s, rt.Endpoint)
		if !rt.Idempotent() {
			app.Add(rt.Method, rt.Path, h)
			continue
		}
		mw, err := idemfiber.NewE(shop.Options(store, rt.Endpoint, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("fiberapp: %s %s: %w", rt.Method, rt.Path, err)
		}
		app.Add(rt.Method, rt.Path, mw, h)
	}
	return app, nil
}

// Config is the example's fiber.Config: BodyLimit, ErrorHandler, and
// Immutable strings.
//
// Fiber's strings (c.Method, c.Get, ...) alias fasthttp buffers that are
// reused once the request is over; Immutable makes them copies. It
// matters here because request values outlive the request in telemetry:
// idemfiber passes c.Method() to the engine, which hands it to the
// Prometheus driver as a label value, and without copies a later request
// overwrites it (method="GETT").
func Config() fiber.Config {
	return fiber.Config{
		DisableStartupMessage: true, // the servers log with slog
		BodyLimit:             BodyLimit,
		ErrorHandler:          ErrorHandler,
		Immutable:             true,
	}
}

// Recover turns a handler panic into a 500 (through ErrorHandler),
// writing its stack trace to ErrorWriter. It must sit outside the
// idempotency middleware, so that a panic first unwinds through it, which
// releases the key (a retry runs fresh; after declared effects it keeps
// the key uncertain instead).
func Recover() fiber.Handler {
	return recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(_ *fiber.Ctx, e any) {
			fmt.Fprintf(ErrorWriter, "panic recovered: %v\n%s\n", e, debug.Stack())
		},
	})
}

// ErrorHandler is fiber.DefaultErrorHandler without the leak: a
// *fiber.Error (404, 405, 413 from fasthttp ...) keeps its status and
// message, anything else, such as a recovered panic, answers a bare 500
// rather than the error's text.
func ErrorHandler(c *fiber.Ctx, err error) error {
	var fe *fiber.Error
	if !errors.As(err, &fe) {
		fe = fiber.ErrInternalServerError
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.Status(fe.Code).SendString(fe.Message)
}

// RequestID sets a fresh X-Request-Id (shop.NewRequestID) on every
// response, before the rest of the chain runs.
func RequestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(shop.RequestIDHeader, shop.NewRequestID())
		return c.Next()
	}
}

// User is the demo's authentication middleware: it stores the X-User-ID
// header in the fiber context under shop.UserKey (c.Locals), where
// the servers' typed user getter (and shop.Options' core.WithUserKey)
// find it to scope keys per user.
func User() fiber.Handler {
	return func(c *fiber.Ctx) error {
		if u := c.Get(shop.UserHeader); u != "" {
			// c.Get aliases fasthttp's buffer, reused after the request.
			c.Locals(shop.UserKey, strings.Clone(u))
		}
		return c.Next()
	}
}

// Handler maps a fiber request to shop.Handle and writes its response
// with c.Status(...).Send(...), or, for a streamed response (exports),
// through fasthttp's body stream writer, which flushes each chunk. The
// shop gets c.UserContext(), where idemfiber puts the claim: payments
// declare their effects through it.
func Handler(s *shop.Shop, e shop.Endpoint) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var resp *shop.Response
		// fasthttp has read the body already (at most BodyLimit); the
		// shop's own limit applies as on the other frameworks.
		if body := c.Body(); len(body) > shop.MaxBodyBytes {
			resp = shop.Error(http.StatusRequestEntityTooLarge, "request body too large")
		} else {
			user, _ := c.Locals(shop.UserKey).(string)
			resp = s.Handle(c.UserContext(), e, &shop.Request{
				Query:  query(c),
				Header: header(c),
				Body:   body,
				User:   user,
			})
		}
		for k, vals := range resp.Header {
			for i, v := range vals {
				if i == 0 {
					c.Set(k, v)
				} else {
					c.Response().Header.Add(k, v)
				}
			}
		}
		c.Status(resp.Status)
		if resp.Stream != nil {
			stream(c, resp.Stream)
			return nil
		}
		return c.Send(resp.Body)
	}
}

// stream sets chunks as the response body, written after the handler
// returns (fasthttp calls the writer once the headers are out, with a
// chunked body) and flushed chunk by chunk. The writer must not touch c,
// which is recycled by then.
func stream(c *fiber.Ctx, chunks [][]byte) {
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		for _, chunk := range chunks {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if err := w.Flush(); err != nil {
				return // the client is gone
			}
		}
	})
}

// query decodes the query string as net/http's URL.Query does.
func query(c *fiber.Ctx) url.Values {
	q, _ := url.ParseQuery(string(c.Request().URI().QueryString()))
	return q
}

// header copies the request header into an http.Header with canonical
// keys, as shop.Request asks.
func header(c *fiber.Ctx) http.Header {
	h := make(http.Header)
	//lint:ignore SA1019 fiber v2 requires fasthttp v1.51, which has no All; the workspace builds it with v1.69
	c.Request().Header.VisitAll(func(k, v []byte) {
		h.Add(string(k), string(v))
	})
	return h
}
