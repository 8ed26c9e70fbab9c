package idemfiber_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	idemfiber "github.com/idemkit/idempotency/fiberv3"
	"github.com/idemkit/idempotency/storage/memory"
)

type countingTelemetry struct {
	mu sync.Mutex
	ms []core.Measurement
}

func (*countingTelemetry) Event(context.Context, *core.Event) {}
func (c *countingTelemetry) Measure(_ context.Context, m *core.Measurement) {
	c.mu.Lock()
	c.ms = append(c.ms, *m)
	c.mu.Unlock()
}

// An error responder that returns an error hands the refusal to the
// app's ErrorHandler, once; the middleware writes nothing itself, the
// handler never runs, and the refusal is measured once.
func TestErrorResponderErrorGoesToErrorHandlerOnce(t *testing.T) {
	var handled []error
	app := fiber.New(fiber.Config{ErrorHandler: func(c fiber.Ctx, err error) error {
		handled = append(handled, err)
		var p *core.Problem
		if errors.As(err, &p) {
			return c.Status(p.Status).SendString("app: " + string(p.Kind))
		}
		return c.Status(599).SendString("app: other")
	}})
	tel := &countingTelemetry{}
	ran := 0
	app.Post("/items", idemfiber.New(core.WithStore(memory.New()), core.WithTelemetry(tel),
		core.WithErrorResponder(core.ErrorResponderFunc(func(_ core.Request, p *core.Problem) (core.Response, error) {
			return core.Response{}, p
		}))), func(c fiber.Ctx) error { ran++; return c.SendStatus(201) })

	res, err := app.Test(httptest.NewRequest("POST", "/items", strings.NewReader(`{}`)))
	if err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 64)
	n, _ := res.Body.Read(body)
	if res.StatusCode != 400 || string(body[:n]) != "app: missing-key" {
		t.Errorf("answer %d %q, want the ErrorHandler's 400 app: missing-key", res.StatusCode, body[:n])
	}
	if ran != 0 {
		t.Errorf("handler ran %d times after a refusal", ran)
	}
	var p *core.Problem
	if len(handled) != 1 || !errors.As(handled[0], &p) || p.Kind != core.ProblemMissingKey {
		t.Errorf("ErrorHandler saw %v, want the missing-key problem once", handled)
	}
	if len(tel.ms) != 1 || tel.ms[0].Outcome != core.OutcomeMissing || tel.ms[0].Status != 400 {
		t.Errorf("measurements %+v, want one missing/400", tel.ms)
	}
}
