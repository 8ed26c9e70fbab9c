package idemfiber_test

import (
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/idempotency"
	"github.com/valyala/fasthttp"

	"github.com/idemkit/idempotency/core"
	idemfiber "github.com/idemkit/idempotency/fiber"
	"github.com/idemkit/idempotency/storage/memory"
)

// benchPayload is a 200-byte JSON body, as SPEC §7 prescribes.
var benchPayload = []byte(`{"amount":12500,"currency":"EUR","customer":"cus_8f2k3j4h5g6f","description":"Order #100234 - 2x widget, 1x gadget","metadata":{"channel":"web","campaign":"autumn-sale","ref":"r-7777"},"capture":true}`)

// BenchmarkFiber compares idemfiber with Fiber's own middleware/idempotency
// on the same app: memory stores, one 200-byte JSON body; "first" sends a
// new key every time (claim, run, store), "replay" the same key (lookup,
// replay). idemfiber fingerprints the canonical body on every request;
// the built-in middleware does not look at the body at all.
func BenchmarkFiber(b *testing.B) {
	if len(benchPayload) != 200 {
		b.Fatalf("payload is %d bytes, want 200", len(benchPayload))
	}
	mws := []struct {
		name   string
		header string
		mw     func(b *testing.B) fiber.Handler
	}{
		{"builtin", "X-Idempotency-Key", func(b *testing.B) fiber.Handler {
			return idempotency.New()
		}},
		{"idemfiber", "Idempotency-Key", func(b *testing.B) fiber.Handler {
			h, err := idemfiber.NewE(core.WithStore(memory.New()))
			if err != nil {
				b.Fatal(err)
			}
			return h
		}},
	}
	for _, m := range mws {
		for _, mode := range []string{"first", "replay"} {
			b.Run(m.name+"/"+mode, func(b *testing.B) {
				app := fiber.New(fiber.Config{DisableStartupMessage: true})
				app.Post("/pay", m.mw(b), func(c *fiber.Ctx) error {
					c.Set("Location", "/pay/1")
					return c.Status(fiber.StatusCreated).JSON(fiber.Map{"id": "pay_1", "status": "succeeded"})
				})
				h := app.Handler()
				keys := make([]string, 1)
				if mode == "first" {
					keys = make([]string, b.N)
				}
				for i := range keys {
					keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012x", i)
				}
				var ctx fasthttp.RequestCtx
				request := func(key string) {
					ctx.Request.Reset()
					ctx.Response.Reset()
					ctx.Request.Header.SetMethod("POST")
					ctx.Request.SetRequestURI("/pay")
					ctx.Request.Header.SetContentType("application/json")
					ctx.Request.Header.Set(m.header, key)
					ctx.Request.SetBody(benchPayload)
					h(&ctx)
				}
				request(keys[0]) // replay mode: the first request stores the response
				if mode == "first" {
					keys[0] = "00000000-0000-4000-8000-ffffffffffff"
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					request(keys[i%len(keys)])
					if sc := ctx.Response.StatusCode(); sc != fiber.StatusCreated {
						b.Fatalf("status %d: %s", sc, ctx.Response.Body())
					}
				}
			})
		}
	}
}
