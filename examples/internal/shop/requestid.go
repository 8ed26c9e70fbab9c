package shop

import "crypto/rand"

// RequestIDHeader is the response header the request-id middleware of
// every example server sets. The middleware runs outside the idempotency
// middleware, so every response, a replay included, carries a fresh id:
// the id names one HTTP exchange, not the operation it replays.
const RequestIDHeader = "X-Request-Id"

// NewRequestID returns a fresh request id: "req_" and 26 random base32
// characters (crypto/rand.Text, 130 bits), unique without coordination
// between processes. Every framework server uses it, so their
// ids look alike.
func NewRequestID() string { return "req_" + rand.Text() }
