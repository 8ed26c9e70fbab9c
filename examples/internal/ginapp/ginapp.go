// Package ginapp maps the example API (package shop) to Gin: the
// handlers and the request-id and X-User-ID middleware. The Gin server
// (examples/gin/main.go) wires them with the idemgin middleware for its
// readers to see; New wires them the same way for the demo
// (examples/demo) and the tests, which cannot import a main package.
package ginapp

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemgin "github.com/idemkit/idempotency/gin"
)

// New returns the Gin router of the example API on store, counting
// executions in s, as examples/gin wires it (see newRouter there, whose
// tests hold it to the same behaviour, apptest, and routes). extra options (e.g. core.WithTelemetry) apply to every
// route's middleware before the route's own settings. An invalid option is
// returned as an error rather than a panic, so a server can report it and
// exit cleanly.
//
// Middleware order matters. RequestID is outermost, outside the
// idempotency middleware, so every response gets a fresh X-Request-Id, a
// replay included: the idempotency middleware must neither store nor
// replay headers set before it ran (SPEC §3, step 8). gin.Recovery comes
// next, so a handler panic first unwinds through the idempotency
// middleware, which releases the key (a retry runs fresh; after declared
// effects it keeps the key uncertain instead), and is then turned into a
// 500 that still carries its request id.
func New(store core.Store, s *shop.Shop, extra ...core.Option) (*gin.Engine, error) {
	if store == nil {
		return nil, errors.New("ginapp: nil store")
	}
	if s == nil {
		return nil, errors.New("ginapp: nil shop")
	}
	r := gin.New()
	r.Use(RequestID(), gin.Recovery(), User())
	for _, rt := range shop.Routes() {
		h := Handler(s, rt.Endpoint)
		if !rt.Idempotent() {
			r.Handle(rt.Method, rt.Path, h)
			continue
		}
		// One middleware (one Engine) per route: the routes differ in
		// header, validator, TTL and optionality, yet share the store.
		mw, err := idemgin.NewE(shop.Options(store, rt.Endpoint, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("ginapp: %s %s: %w", rt.Method, rt.Path, err)
		}
		r.Handle(rt.Method, rt.Path, mw, h)
	}
	return r, nil
}

// RequestID sets a fresh X-Request-Id (shop.NewRequestID) on every
// response, before the rest of the chain runs.
func RequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header(shop.RequestIDHeader, shop.NewRequestID())
		c.Next()
	}
}

// User is the demo's authentication middleware: it stores the X-User-ID
// header in the gin context under shop.UserKey, where
// the servers' typed user getter (and shop.Options' core.WithUserKey)
// find it to scope keys per user.
func User() gin.HandlerFunc {
	return func(c *gin.Context) {
		if u := c.GetHeader(shop.UserHeader); u != "" {
			c.Set(shop.UserKey, u)
		}
		c.Next()
	}
}

// Handler maps a gin request to shop.Handle and writes its response. The
// shop gets c.Request.Context(), which idemgin replaces with the claim's
// context before the handler runs: payments declare their effects
// through it.
func Handler(s *shop.Shop, e shop.Endpoint) gin.HandlerFunc {
	return func(c *gin.Context) {
		var resp *shop.Response
		body, err := shop.ReadBody(c.Request.Body)
		switch {
		case errors.Is(err, shop.ErrBodyTooLarge):
			resp = shop.Error(http.StatusRequestEntityTooLarge, "request body too large")
		case err != nil:
			resp = shop.Error(http.StatusBadRequest, "request body could not be read")
		default:
			resp = s.Handle(c.Request.Context(), e, &shop.Request{
				Query:  c.Request.URL.Query(),
				Header: c.Request.Header,
				Body:   body,
				User:   c.GetString(shop.UserKey),
			})
		}
		write(c, resp)
	}
}

// write copies resp's headers and writes its status and body, or streams
// it: each chunk of resp.Stream is written and flushed through Gin's
// writer (the way c.Stream does, without its CloseNotify, which
// httptest's recorder lacks), until the client goes away.
func write(c *gin.Context, resp *shop.Response) {
	h := c.Writer.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	c.Status(resp.Status)
	if resp.Stream == nil {
		_, _ = c.Writer.Write(resp.Body)
		return
	}
	ctx := c.Request.Context()
	for _, chunk := range resp.Stream {
		if ctx.Err() != nil {
			return
		}
		if _, err := c.Writer.Write(chunk); err != nil {
			return
		}
		c.Writer.Flush()
	}
}
