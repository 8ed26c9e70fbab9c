package idemfiber_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v3"
	"github.com/gofiber/fiber/v3/middleware/idempotency"
	"github.com/valyala/fasthttp"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemfiber "github.com/idemkit/idempotency/fiberv3"
	"github.com/idemkit/idempotency/storage/memory"
)

// benchPayload is the 200-byte JSON body every adapter's benchmark sends.
var benchPayload = coretest.BenchPayload

var (
	statusOriginal = []byte("Original")
	statusRepeated = []byte("Repeated")
)

// BenchmarkFiberV3 compares idemfiber with Fiber v3's own
// middleware/idempotency on the same app: memory stores, one 200-byte JSON
// body; "first" sends a new key every time (claim, run, store), "replay"
// the same key (lookup, replay). idemfiber fingerprints the canonical body
// on every request; the built-in middleware does not look at the body at
// all.
//
// Requests go through app.Handler(), so Fiber acquires and releases its
// Ctx per request as under a real server, and the one fasthttp.RequestCtx
// is reset before each request exactly as fasthttp's server resets it
// between two requests on a connection (resetLikeServer). Every iteration
// checks that the middleware did what the row claims to measure: the
// status, that the response equals the original one, the handler's run
// count, and the middleware's own marker (idemfiber's Idempotency-Status
// header; the built-in's IsFromCache / WasPutToCache, read by a recorder
// route middleware mounted outside it on both rows, so that both pay its
// cost). A middleware that passed the request through would fail the
// benchmark.
func BenchmarkFiberV3(b *testing.B) {
	if len(benchPayload) != 200 {
		b.Fatalf("payload is %d bytes, want 200", len(benchPayload))
	}
	mws := []struct {
		name   string
		header string
		bare   bool // no idempotency: first requests only
		mw     func(b *testing.B) fiber.Handler
		// marked reports whether the last response carries the
		// middleware's own sign of a first request (replay false) or of
		// a replay (replay true).
		marked func(ctx *fasthttp.RequestCtx, rec *recorded, replay bool) bool
	}{
		{"bare", "Idempotency-Key", true, func(*testing.B) fiber.Handler {
			return func(c fiber.Ctx) error { return c.Next() }
		}, func(ctx *fasthttp.RequestCtx, rec *recorded, _ bool) bool {
			return ctx.Response.Header.Peek("Idempotency-Status") == nil && !rec.fromCache && !rec.putToCache
		}},
		{"builtin", "X-Idempotency-Key", false, func(b *testing.B) fiber.Handler {
			return idempotency.New()
		}, func(_ *fasthttp.RequestCtx, rec *recorded, replay bool) bool {
			if replay {
				return rec.fromCache && !rec.putToCache
			}
			return rec.putToCache && !rec.fromCache
		}},
		{"idemfiber", "Idempotency-Key", false, func(b *testing.B) fiber.Handler {
			h, err := idemfiber.NewE(core.WithStore(memory.New()))
			if err != nil {
				b.Fatal(err)
			}
			return h
		}, func(ctx *fasthttp.RequestCtx, _ *recorded, replay bool) bool {
			want := statusOriginal
			if replay {
				want = statusRepeated
			}
			return bytes.Equal(ctx.Response.Header.Peek("Idempotency-Status"), want)
		}},
	}
	for _, m := range mws {
		for _, mode := range []string{"first", "replay"} {
			if m.bare && mode == "replay" {
				continue
			}
			b.Run(m.name+"/"+mode, func(b *testing.B) {
				replay := mode == "replay"
				app, runs, rec := benchApp(m.mw(b))
				h := app.Handler()
				keys := make([]string, 1)
				if !replay {
					keys = make([]string, b.N)
				}
				for i := range keys {
					keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
				}
				var ctx fasthttp.RequestCtx
				request := func(key string) {
					resetLikeServer(&ctx)
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/pay")
					ctx.Request.Header.SetContentType("application/json")
					ctx.Request.Header.Set(m.header, key)
					ctx.Request.SetBody(benchPayload)
					h(&ctx)
				}

				// The setup request: in replay mode it stores the response
				// every iteration replays; in both modes it is the
				// original the benchmarked responses must equal.
				request(keys[0])
				if sc := ctx.Response.StatusCode(); sc != fiber.StatusCreated || *runs != 1 || !m.marked(&ctx, rec, false) {
					b.Fatalf("setup request: status %d, handler runs %d, marker %v: %s", sc, *runs, m.marked(&ctx, rec, false), ctx.Response.Header.String())
				}
				wantBody := bytes.Clone(ctx.Response.Body())
				wantLocation := bytes.Clone(ctx.Response.Header.Peek("Location"))
				if !replay {
					keys[0] = "00000000-0000-4000-8000-ffffffffffff"
				}

				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					request(keys[i%len(keys)])
					wantRuns := 2 + i // setup and this one
					if replay {
						wantRuns = 1 // setup only
					}
					if ctx.Response.StatusCode() != fiber.StatusCreated || *runs != wantRuns || !m.marked(&ctx, rec, replay) ||
						!bytes.Equal(ctx.Response.Body(), wantBody) || !bytes.Equal(ctx.Response.Header.Peek("Location"), wantLocation) {
						b.Fatalf("%s/%s, iteration %d: handler runs %d, want %d; marker %v; response:\n%s\n%s",
							m.name, mode, i, *runs, wantRuns, m.marked(&ctx, rec, replay), ctx.Response.Header.String(), ctx.Response.Body())
					}
				}
				b.StopTimer()
				if want := 1 + b.N; !replay && *runs != want {
					b.Fatalf("handler ran %d times for %d first requests (and one setup request)", *runs, b.N)
				}
				if replay && *runs != 1 {
					b.Fatalf("handler ran %d times: replays reached it", *runs)
				}
			})
		}
	}
}

// recorded is what the recorder saw of the built-in middleware's markers
// after the last request. Its locals' keys are unexported, so only its
// IsFromCache and WasPutToCache can read them, and only while the Ctx
// is live: from a middleware around it, not after the request.
type recorded struct{ fromCache, putToCache bool }

// benchApp is the app both middlewares are measured on; runs counts the
// handler's executions, rec holds the built-in's markers.
func benchApp(mw fiber.Handler) (*fiber.App, *int, *recorded) {
	runs, rec := new(int), new(recorded)
	app := fiber.New()
	recorder := func(c fiber.Ctx) error {
		err := c.Next()
		rec.fromCache, rec.putToCache = idempotency.IsFromCache(c), idempotency.WasPutToCache(c)
		return err
	}
	app.Post("/pay", recorder, mw, func(c fiber.Ctx) error {
		*runs++
		c.Set("Location", "/pay/1")
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": "pay_1", "status": "succeeded"})
	})
	return app, runs, rec
}

// resetLikeServer prepares ctx for the next request as fasthttp's Server
// does between two requests on one keep-alive connection (serveConn in
// fasthttp v1.69 server.go: ctx.userValues.Reset(), ctx.Request.Reset(),
// ctx.Response.Reset(); releaseCtx's ctx.reset() starts the same way).
// Without the first, locals of the previous request - idemfiber's nesting
// marker among them - leak into the next one.
func resetLikeServer(ctx *fasthttp.RequestCtx) {
	ctx.ResetUserValues()
	ctx.Request.Reset()
	ctx.Response.Reset()
}
