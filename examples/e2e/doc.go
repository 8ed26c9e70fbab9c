// Package e2e tests the example servers as their users run them: it
// builds the binaries of examples/gin, examples/echo and examples/fiber,
// starts them as processes on loopback ports, on the in-memory store or
// on a real redis-server (storage/redis/redistest), and talks HTTP to
// them. It has no non-test code.
package e2e
