package idemecho_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemecho "github.com/idemkit/idempotency/echov5"
)

func TestConformance(t *testing.T) {
	coretest.TestAdapter(t, coretest.Harness{Start: startEcho, HandlerErrors: true})
}

func startEcho(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	e := echo.New()
	e.Use(middleware.Recover())
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			for _, h := range coretest.OuterHeaders(c.Request().Header.Get("Origin")) {
				c.Response().Header().Set(h[0], h[1])
			}
			return next(c)
		}
	})
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			if u := c.Request().Header.Get("X-User-ID"); u != "" {
				c.Set("user", u)
			}
			return next(c)
		}
	})
	if setup.Outer != nil {
		e.Use(mustMiddleware(t, setup.Outer))
	}
	add := e.Add
	var onRoute []echo.MiddlewareFunc
	switch mw := mustMiddleware(t, setup.Options); setup.Mount {
	case coretest.MountGlobal:
		e.Use(mw)
	case coretest.MountGroup:
		add = e.Group("", mw).Add
	default:
		onRoute = append(onRoute, mw)
	}
	for _, route := range []string{"items", "other"} {
		h := func(c *echo.Context) error {
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				return err
			}
			user, _ := c.Get("user").(string)
			out := app.Exec(coretest.Input{
				Method: c.Request().Method, Route: route, ID: c.Param("id"),
				Query: c.QueryParam, Body: body, User: user, Ctx: c.Request().Context(),
			})
			for k, v := range out.Header {
				for _, s := range v {
					c.Response().Header().Add(k, s)
				}
			}
			switch {
			case out.Panic:
				panic("coretest panic")
			case out.Err && out.ErrStatus != 0:
				return echo.NewHTTPError(out.ErrStatus, "coretest handler error")
			case out.Err:
				return errors.New("coretest handler error")
			case out.EventStream:
				return c.Blob(out.Status, "text/event-stream", out.Body)
			case out.Stream:
				c.Response().WriteHeader(out.Status)
				half := len(out.Body) / 2
				_, _ = c.Response().Write(out.Body[:half])
				if err := http.NewResponseController(c.Response()).Flush(); err != nil {
					return err
				}
				_, _ = c.Response().Write(out.Body[half:])
				return nil
			}
			return c.Blob(out.Status, out.Header.Get("Content-Type"), out.Body)
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			add(m, "/"+route+"/:id", h, onRoute...)
		}
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustMiddleware(t *testing.T, opts []core.Option) echo.MiddlewareFunc {
	t.Helper()
	m, err := idemecho.NewE(opts...)
	if err != nil {
		t.Fatalf("idemecho.NewE: %v", err)
	}
	return m
}
