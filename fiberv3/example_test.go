package idemfiber_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/gofiber/fiber/v3"

	"github.com/idemkit/idempotency/core"
	idemfiber "github.com/idemkit/idempotency/fiberv3"
	"github.com/idemkit/idempotency/storage/memory"
)

func Example() {
	charges := 0
	app := fiber.New()
	app.Post("/charges", idemfiber.New(core.WithStore(memory.New())), func(c fiber.Ctx) error {
		charges++
		return c.Status(fiber.StatusCreated).JSON(fiber.Map{"charge": charges})
	})

	for i := 0; i < 2; i++ {
		req := httptest.NewRequest("POST", "/charges", strings.NewReader(`{"amount":100}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21")
		resp, err := app.Test(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.StatusCode, resp.Header.Get("Idempotency-Status"), string(body))
	}
	fmt.Println("charges:", charges)
	// Output:
	// 201 Original {"charge":1}
	// 201 Repeated {"charge":1}
	// charges: 1
}
