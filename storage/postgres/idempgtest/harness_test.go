package idempgtest

import (
	"errors"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemgin "github.com/idemkit/idempotency/gin"
)

// startGin is a copy of the Gin adapter's conformance harness
// (gin/harness_test.go, unexported there): the suite's router, served by
// Gin with the idemgin middleware.
func startGin(t *testing.T, app *coretest.App, setup coretest.Setup) string {
	r := gin.New()
	r.Use(gin.Recovery())
	r.Use(func(c *gin.Context) {
		for _, h := range coretest.OuterHeaders(c.GetHeader("Origin")) {
			c.Header(h[0], h[1])
		}
	})
	r.Use(func(c *gin.Context) {
		if u := c.GetHeader("X-User-ID"); u != "" {
			c.Set("user", u)
		}
	})
	if setup.Outer != nil {
		r.Use(mustMiddleware(t, setup.Outer))
	}
	var routes gin.IRoutes = r
	var onRoute []gin.HandlerFunc
	switch mw := mustMiddleware(t, setup.Options); setup.Mount {
	case coretest.MountGlobal:
		r.Use(mw)
	case coretest.MountGroup:
		routes = r.Group("/", mw)
	default:
		onRoute = append(onRoute, mw)
	}
	for _, route := range []string{"items", "other"} {
		route := route
		h := func(c *gin.Context) {
			body, err := io.ReadAll(c.Request.Body)
			if err != nil {
				c.AbortWithStatus(400)
				return
			}
			out := app.Exec(coretest.Input{
				Method: c.Request.Method, Route: route, ID: c.Param("id"),
				Query: c.Query, Body: body, User: c.GetString("user"), Ctx: c.Request.Context(), FrameworkCtx: c,
			})
			for k, v := range out.Header {
				for _, s := range v {
					c.Writer.Header().Add(k, s)
				}
			}
			if out.Panic {
				panic("coretest panic")
			}
			if out.Err {
				code := out.ErrStatus
				if code == 0 {
					code = 500
				}
				_ = c.AbortWithError(code, errors.New("coretest handler error"))
				return
			}
			if out.EventStream {
				c.Status(out.Status)
				c.SSEvent("", string(out.Body))
				return
			}
			if out.Stream {
				c.Status(out.Status)
				half := len(out.Body) / 2
				chunks := [][]byte{out.Body[:half], out.Body[half:]}
				i := 0
				c.Stream(func(w io.Writer) bool {
					_, _ = w.Write(chunks[i])
					i++
					return i < len(chunks)
				})
				return
			}
			c.Data(out.Status, out.Header.Get("Content-Type"), out.Body)
			if out.PanicAfterWrite {
				panic("coretest panic")
			}
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			routes.Handle(m, "/"+route+"/:id", append(onRoute[:len(onRoute):len(onRoute)], h)...)
		}
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustMiddleware(t *testing.T, opts []core.Option) gin.HandlerFunc {
	t.Helper()
	h, err := idemgin.NewE(opts...)
	if err != nil {
		t.Fatalf("idemgin.NewE: %v", err)
	}
	return h
}
