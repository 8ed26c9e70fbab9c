// Package shop is the business logic shared by every example server: a
// tiny payments API whose handlers count how often they really run.
//
// It is framework-neutral on purpose. Each example server (ginapp,
// echoapp, fiberapp) only maps its framework's context to a Request,
// calls Shop.Handle and writes the Response back, and registers the
// routes listed by Routes with the idempotency options that Options
// builds. Everything the demo shows, the execution counters, the
// validation that answers a cacheable 400, the Set-Cookie that a replay
// must not repeat, is therefore identical across frameworks, and any
// difference the demo reveals is the adapter's.
package shop
