// Package echov5app maps the example API (package shop) to Echo v5: the
// handlers and the request-id and X-User-ID middleware. The Echo v5
// server (examples/echov5/main.go) wires them with the idemecho (echov5)
// middleware for its readers to see; New wires them the same way for the
// demo (examples/demo) and the tests, which cannot import a main package.
// It is package echoapp (Echo v4) with Echo v5's *echo.Context.
package echov5app

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/idemkit/idempotency/core"
	idemecho "github.com/idemkit/idempotency/echov5"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// New returns the Echo v5 router of the example API on store, counting
// executions in s, as examples/echov5 wires it (see newRouter there, whose
// tests hold it to the same behaviour, apptest, and routes). extra
// options (e.g. core.WithTelemetry) apply to every route's middleware
// before the route's own settings. An invalid option is returned as an
// error rather than a panic, so a server can report it and exit cleanly.
//
// Middleware order matters. RequestID is outermost, outside the
// idempotency middleware, so every response gets a fresh X-Request-Id, a
// replay included. middleware.Recover comes next, so a handler panic
// first unwinds through the idempotency middleware, which releases the
// key (a retry runs fresh; after declared effects it keeps the key
// uncertain instead), and is then turned into a 500 by Echo's error
// handler.
func New(store core.Store, s *shop.Shop, extra ...core.Option) (*echo.Echo, error) {
	if store == nil {
		return nil, errors.New("echov5app: nil store")
	}
	if s == nil {
		return nil, errors.New("echov5app: nil shop")
	}
	e := echo.New()
	// The panicking goroutine's stack is enough.
	e.Use(RequestID(), middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true}), User())
	for _, rt := range shop.Routes() {
		h := Handler(s, rt.Endpoint)
		if !rt.Idempotent() {
			e.Add(rt.Method, rt.Path, h)
			continue
		}
		// One middleware (one Engine) per route: the routes differ in
		// header, validator, TTL and optionality, yet share the store.
		mw, err := idemecho.NewE(shop.Options(store, rt.Endpoint, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("echov5app: %s %s: %w", rt.Method, rt.Path, err)
		}
		e.Add(rt.Method, rt.Path, h, mw)
	}
	return e, nil
}

// RequestID sets a fresh X-Request-Id (shop.NewRequestID) on every
// response, before the rest of the chain runs. (Echo's own
// middleware.RequestID would do, but it makes its own ids; the servers
// share one generator so that they cannot drift.)
func RequestID() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.Response().Header().Set(shop.RequestIDHeader, shop.NewRequestID())
			return next(c)
		}
	}
}

// User is the demo's authentication middleware: it stores the X-User-ID
// header in the echo context under shop.UserKey, where the servers' typed
// user getter (and shop.Options' core.WithUserKey) find it to scope keys
// per user.
func User() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if u := c.Request().Header.Get(shop.UserHeader); u != "" {
				c.Set(shop.UserKey, u)
			}
			return next(c)
		}
	}
}

// Handler maps an echo request to shop.Handle and writes its response
// with c.Blob, which sets the status and Content-Type the shop chose.
// (c.JSON would re-encode with Echo's serializer and add a newline; the
// shop's bytes are what every framework must answer alike.) A streamed
// response (exports) is written chunk by chunk to c.Response(), with a
// flush after each (c.Response() is an http.ResponseWriter in Echo v5:
// http.NewResponseController reaches its Flush). The shop gets
// c.Request().Context(), which idemecho replaces with the claim's
// context: payments declare their effects through it.
func Handler(s *shop.Shop, e shop.Endpoint) echo.HandlerFunc {
	return func(c *echo.Context) error {
		var resp *shop.Response
		req := c.Request()
		body, err := shop.ReadBody(req.Body)
		switch {
		case errors.Is(err, shop.ErrBodyTooLarge):
			resp = shop.Error(http.StatusRequestEntityTooLarge, "request body too large")
		case err != nil:
			resp = shop.Error(http.StatusBadRequest, "request body could not be read")
		default:
			user, _ := c.Get(shop.UserKey).(string)
			resp = s.Handle(req.Context(), e, &shop.Request{
				Query:  c.QueryParams(),
				Header: req.Header,
				Body:   body,
				User:   user,
			})
		}
		res := c.Response()
		h := res.Header()
		if resp.Stream != nil {
			for k, v := range resp.Header {
				h[k] = v
			}
			res.WriteHeader(resp.Status)
			rc := http.NewResponseController(res)
			for _, chunk := range resp.Stream {
				if req.Context().Err() != nil {
					return nil
				}
				if _, err := res.Write(chunk); err != nil {
					return nil // the client is gone; the status is sent
				}
				_ = rc.Flush()
			}
			return nil
		}
		for k, v := range resp.Header {
			if k != echo.HeaderContentType { // c.Blob sets it
				h[k] = v
			}
		}
		return c.Blob(resp.Status, resp.Header.Get(echo.HeaderContentType), resp.Body)
	}
}
