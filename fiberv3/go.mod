module github.com/idemkit/idempotency/fiberv3

go 1.25.0

require (
	github.com/gofiber/fiber/v3 v3.1.0
	github.com/idemkit/idempotency v0.1.0
	github.com/valyala/fasthttp v1.69.0
)

replace github.com/idemkit/idempotency => ../
