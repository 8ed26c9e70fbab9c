// Package shop is the business logic shared by every example server: a
// tiny payments API whose handlers count how often they really run.
//
// It is framework-neutral on purpose. Each framework's package (ginapp,
// echoapp, fiberapp) only maps its framework's context to a Request,
// calls Shop.Handle and writes the Response back; each example server's
// main.go registers the routes listed by Routes with the idempotency
// options that Options builds, spelled out. Everything the demo shows, the execution counters, the
// validation that answers a cacheable 400, the Set-Cookie that a replay
// must not repeat, is therefore identical across frameworks, and any
// difference the demo reveals is the adapter's.
//
// Payments and refunds behave like a real payment handler: after
// validation, just before they "charge" (create the resource), they
// declare their effects through the handler's context
// (core.DeclareEffects), and answer 503 without charging when that fails.
// A failure after that point leaves the key uncertain instead of
// releasing it for a second charge.
//
// The query switches simulate what goes wrong, in this order:
//
//	effects=1   declare effects first, as a handler that has charged the
//	            card already: whatever fails next leaves the key uncertain
//	            (retries get 423 operation-uncertain until it is resolved)
//	delay=300ms sleep first (at most MaxDelay); 503 if the client goes away
//	fail=500    answer that 5xx; without effects=1 the key is released
//	panic=1     panic; without effects=1 the key is released
//
// So effects=1&fail=500 and effects=1&panic=1 leave the key uncertain,
// while fail=500 and panic=1 alone let a retry run again.
//
// With a Ledger (SetLedger: the servers started with -postgres), a
// payment is a row written in the claim's transaction instead of a
// declared effect, and the switches run after the row is written: fail=500
// and panic=1 then show the row rolled back with the claim, which is
// released, and GET /stats adds the committed payments
// ({"executions":{...},"committed":{"payments":N}}).
package shop
