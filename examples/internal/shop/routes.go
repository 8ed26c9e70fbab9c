package shop

import (
	"net/http"

	"github.com/idemkit/idempotency/core"
)

// Names shared by every framework server.
const (
	// UserHeader is the demo's "authentication": a real server would set
	// the user from a verified token instead.
	UserHeader = "X-User-ID"
	// UserKey is the framework-context key (gin/echo c.Set, fiber
	// c.Locals) under which the user middleware stores the user, and from
	// which core.WithUserKey reads it for the user scopes.
	UserKey = "user"
	// WebhookHeader carries the webhook sender's delivery id, used as the
	// idempotency key of POST /webhooks.
	WebhookHeader = "X-Webhook-ID"
)

// Route is one route of the example API.
type Route struct {
	Endpoint Endpoint
	Method   string
	Path     string
}

// Idempotent reports whether the route gets an idempotency middleware.
// GET /stats does not: reads are safe to repeat and must see live counts.
func (r Route) Idempotent() bool { return r.Endpoint != Stats }

// Routes returns the routes every example server registers, in order.
// The paths have no parameters, so they read the same in Gin, Echo and
// Fiber.
func Routes() []Route {
	return []Route{
		{Payments, http.MethodPost, "/payments"},
		{Refunds, http.MethodPost, "/refunds"},
		{Votes, http.MethodPost, "/votes"},
		{Webhooks, http.MethodPost, "/webhooks"},
		{Exports, http.MethodPost, "/exports"},
		{Stats, http.MethodGet, "/stats"},
	}
}

// Options returns the engine options for the idempotency middleware of
// endpoint e: the store and user resolver every route shares, then extra
// (e.g. core.WithTelemetry), then e's own settings, which therefore win.
// The in-process apps of the demo and the tests (ginapp.New, echoapp.New,
// fiberapp.New) build their middleware from it; the example servers spell
// the same options out in their main.go, for their readers, and their
// tests (apptest) hold them to the same behaviour.
//
// All routes share one store: records do not collide because the default
// scope user_route puts the method and route pattern into every key.
func Options(store core.Store, e Endpoint, extra ...core.Option) []core.Option {
	opts := make([]core.Option, 0, 4+len(extra))
	opts = append(opts, core.WithStore(store), core.WithUserKey(UserKey))
	opts = append(opts, extra...)
	switch e {
	case Payments, Refunds, Exports:
		// The defaults are what money needs: a key is required, it must be
		// a UUID, the scope is user_route (a key of alice on /payments
		// never replays bob's or /refunds' response) and the payload is
		// fingerprinted, so a reused key with another amount gets 422.
		// Exports share them: an export is expensive and must not run
		// twice for one key, yet its answer is streamed and so never
		// stored for a replay (see Shop.Handle).
	case Votes:
		// A per-route option tag: clients may omit the key (a vote without
		// one simply counts again), and a replayed vote is forgotten after
		// two seconds so the demo can show expiry.
		opts = append(opts, core.Tag("optional,ttl=2s"))
	case Webhooks:
		// Senders identify deliveries by their own id in their own header,
		// in no particular format, and resend the same payload for an id,
		// so fingerprinting would only cost time.
		opts = append(opts,
			core.WithHeaderName(WebhookHeader),
			core.WithKeyValidator(core.Token()),
			core.WithoutPayloadCheck(),
		)
	}
	return opts
}
