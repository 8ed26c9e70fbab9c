package idemfiber_test

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/recover"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemfiber "github.com/idemkit/idempotency/fiberv3"
)

func TestConformance(t *testing.T) {
	coretest.TestAdapter(t, coretest.Harness{Start: startFiber, HandlerErrors: true})
}

func startFiber(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	f := fiber.New(fiber.Config{BodyLimit: 64 << 20})
	f.Use(recover.New())
	f.Use(func(c fiber.Ctx) error {
		for _, h := range coretest.OuterHeaders(c.Get("Origin")) {
			c.Set(h[0], h[1])
		}
		return c.Next()
	})
	f.Use(func(c fiber.Ctx) error {
		if u := c.Get("X-User-ID"); u != "" {
			c.Locals("user", u)
		}
		return c.Next()
	})
	if setup.Outer != nil {
		f.Use(mustMiddleware(t, setup.Outer))
	}
	var routes fiber.Router = f
	var onRoute []any
	switch mw := mustMiddleware(t, setup.Options); setup.Mount {
	case coretest.MountGlobal:
		f.Use(mw)
	case coretest.MountGroup:
		routes = f.Group("/", mw)
	default:
		onRoute = append(onRoute, mw)
	}
	for _, route := range []string{"items", "other"} {
		route := route
		h := func(c fiber.Ctx) error {
			user, _ := c.Locals("user").(string)
			out := app.Exec(coretest.Input{
				Method: c.Method(), Route: route, ID: c.Params("id"),
				Query: func(n string) string { return c.Query(n) }, Body: append([]byte(nil), c.Body()...), User: user, Ctx: c.Context(), FrameworkCtx: c,
			})
			for k, v := range out.Header {
				for _, s := range v {
					c.Response().Header.Add(k, s)
				}
			}
			switch {
			case out.Panic:
				panic("coretest panic")
			case out.Err && out.ErrStatus != 0:
				return fiber.NewError(out.ErrStatus, "coretest handler error")
			case out.Err:
				return errors.New("coretest handler error")
			case out.EventStream:
				c.Set("Content-Type", "text/event-stream")
				return c.Status(out.Status).Send(out.Body)
			case out.Stream:
				c.Status(out.Status)
				body := out.Body
				c.RequestCtx().SetBodyStreamWriter(func(w *bufio.Writer) {
					half := len(body) / 2
					_, _ = w.Write(body[:half])
					_ = w.Flush()
					_, _ = w.Write(body[half:])
				})
				return nil
			}
			c.Set("Content-Type", out.Header.Get("Content-Type"))
			return c.Status(out.Status).Send(out.Body)
		}
		handlers := append(onRoute[:len(onRoute):len(onRoute)], h)
		routes.Add([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, "/"+route+"/:id", handlers[0], handlers[1:]...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = f.Listener(ln, fiber.ListenConfig{DisableStartupMessage: true}) }()
	t.Cleanup(func() { _ = f.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

func mustMiddleware(t *testing.T, opts []core.Option) fiber.Handler {
	t.Helper()
	h, err := idemfiber.NewE(opts...)
	if err != nil {
		t.Fatalf("idemfiber.NewE: %v", err)
	}
	return h
}
