package core

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Default values of the options.
const (
	DefaultHeaderName       = "Idempotency-Key"
	DefaultTTL              = 24 * time.Hour
	DefaultLease            = 30 * time.Second
	DefaultLockWait         = 5 * time.Second
	DefaultMaxKeyLength     = 255
	DefaultMaxBodyBytes     = 10 << 20
	DefaultMaxResponseBytes = 1 << 20
	DefaultSizeWarningBytes = 256 << 10
	DefaultDuplicateHits    = 5
	DefaultAlertCooldown    = time.Hour
	DefaultStoreTimeout     = 2 * time.Second
)

// config is the resolved configuration of one Engine. It is unexported so
// that every setting goes through a documented, validated Option.
type config struct {
	store      Store
	ttl        time.Duration
	lease      time.Duration
	renewEvery time.Duration
	lockWait   time.Duration

	methods  [methodSlots]string
	nMethods int
	skip     func(Request) bool
	optional bool
	// route, when set, replaces Request.Route (WithRouteResolver).
	route func(Request) string

	extractor    KeyExtractor
	validator    KeyValidator
	maxKeyLength int

	scope         Scope
	scopeResolver ScopeResolver
	// userResolver returns the request's user, and false for a Request it
	// cannot read (a typed getter given another framework's request): the
	// user scopes then refuse the request (ErrForeignRequest) instead of
	// making every user anonymous, which would merge all users' keys.
	userResolver func(Request) (user string, ok bool)

	checkPayload bool
	hasher       PayloadHasher
	hashOpts     []HashOption // for the default hasher
	maxBodyBytes int64

	serializer       ResponseSerializer
	maxResponseBytes int
	sizeWarning      int
	cacheable        func(status int) bool
	releaseUnstored  bool
	headers          headerRules
	replayedHeader   bool

	failOpen     bool
	storeTimeout time.Duration
	responder    ErrorResponder

	derivedSecret []byte
	recordKeys    []RecordKey
	encrypt       bool

	telemetry     TelemetryDriver
	alerts        []AlertHandler
	alertCooldown time.Duration
	duplicateHits int
	redactKeys    bool
}

const methodSlots = 8

func defaultConfig() config {
	c := config{
		ttl:              DefaultTTL,
		lease:            DefaultLease,
		lockWait:         DefaultLockWait,
		maxKeyLength:     DefaultMaxKeyLength,
		scope:            ScopeUserRoute,
		checkPayload:     true,
		maxBodyBytes:     DefaultMaxBodyBytes,
		maxResponseBytes: DefaultMaxResponseBytes,
		sizeWarning:      DefaultSizeWarningBytes,
		cacheable:        DefaultCacheable,
		alertCooldown:    DefaultAlertCooldown,
		duplicateHits:    DefaultDuplicateHits,
		redactKeys:       true,
		storeTimeout:     DefaultStoreTimeout,
	}
	c.setMethods(http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete)
	return c
}

func (c *config) setMethods(ms ...string) {
	c.nMethods = 0
	for _, m := range ms {
		if c.nMethods < methodSlots {
			c.methods[c.nMethods] = strings.ToUpper(m)
			c.nMethods++
		}
	}
}

func (c *config) hasMethod(m string) bool {
	for i := 0; i < c.nMethods; i++ {
		if c.methods[i] == m {
			return true
		}
	}
	return false
}

// DefaultCacheable reports whether a response with status is stored and
// replayed: 200–499 except 408, 409, 425 and 429, which describe a
// transient state a retry should not see again. 5xx are never stored.
func DefaultCacheable(status int) bool {
	if status < 200 || status > 499 {
		return false
	}
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return true
}

// Option configures an Engine. Options are applied in order; a later one
// overrides an earlier one. An invalid option makes New return an error
// wrapping ErrInvalidOption.
type Option interface {
	apply(*config) error
}

type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// WithStore sets the store that keeps records. The framework adapters
// default to the process-wide in-memory store (storage/memory.Default);
// core.New without a store returns an error.
func WithStore(s Store) Option {
	return optionFunc(func(c *config) error {
		if s == nil {
			return invalid("nil store")
		}
		c.store = s
		return nil
	})
}

// WithTTL sets how long a completed response is kept and replayed.
// Default 24h.
func WithTTL(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return invalid("ttl must be positive, got %v", d)
		}
		c.ttl = d
		return nil
	})
}

// WithLease sets how long a claim stays valid without renewal. A handler
// that runs longer keeps its claim: the lease is renewed every lease/3
// while it runs. A crashed instance's claim is taken over once its lease
// expires. Default 30s.
func WithLease(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 10*time.Millisecond {
			return invalid("lease must be at least 10ms, got %v", d)
		}
		c.lease = d
		return nil
	})
}

// WithLockWait sets how long a duplicate of an in-flight request waits for
// the original to complete before it gets 409 Conflict. Zero answers 409 at
// once. Default 5s.
func WithLockWait(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return invalid("lock wait must not be negative, got %v", d)
		}
		c.lockWait = d
		return nil
	})
}

// WithMethods sets the methods that get idempotency; others pass through.
// Default POST, PUT, PATCH, DELETE.
func WithMethods(methods ...string) Option {
	return optionFunc(func(c *config) error {
		if len(methods) == 0 || len(methods) > methodSlots {
			return invalid("methods: need 1 to %d methods, got %d", methodSlots, len(methods))
		}
		for _, m := range methods {
			if m == "" || strings.ContainsAny(m, " \t,") {
				return invalid("methods: bad method %q", m)
			}
		}
		c.setMethods(methods...)
		return nil
	})
}

// WithSkip sets a function that lets requests pass through untouched when
// it returns true. Default none.
func WithSkip(skip func(Request) bool) Option {
	return optionFunc(func(c *config) error {
		c.skip = skip
		return nil
	})
}

// WithRouteResolver sets how the Engine finds the pattern of the route a
// request matched, in place of Request.Route, for routers whose adapter
// cannot see it before the handler runs (a middleware wrapping a whole
// net/http ServeMux or chi router; see idemhttp.WithRoute). An empty
// result means no route: the request passes through untouched (SPEC §3
// step 1). The route is part of the route scopes and of telemetry labels,
// so it must be a pattern, never a concrete path. nil restores the
// default, Request.Route.
func WithRouteResolver(route func(Request) string) Option {
	return optionFunc(func(c *config) error {
		c.route = route
		return nil
	})
}

// WithOptional makes the key optional: a request without one passes
// through without idempotency instead of getting 400. Default required.
func WithOptional(optional bool) Option {
	return optionFunc(func(c *config) error {
		c.optional = optional
		return nil
	})
}

// WithHeaderName reads the key from the named header, e.g. X-Webhook-ID.
// Default Idempotency-Key.
func WithHeaderName(name string) Option {
	return optionFunc(func(c *config) error {
		if name == "" || strings.ContainsAny(name, " \t:") {
			return invalid("header name %q", name)
		}
		c.extractor = HeaderKey(name)
		return nil
	})
}

// WithKeyExtractor replaces how the key is read from a request.
// Default HeaderKey("Idempotency-Key").
func WithKeyExtractor(x KeyExtractor) Option {
	return optionFunc(func(c *config) error {
		if x == nil {
			return invalid("nil key extractor")
		}
		c.extractor = x
		return nil
	})
}

// WithKeyValidator sets which keys are accepted: UUID(), ULID(), Token(),
// MustRegex(...) or your own. Default UUID().
func WithKeyValidator(v KeyValidator) Option {
	return optionFunc(func(c *config) error {
		if v == nil {
			return invalid("nil key validator")
		}
		c.validator = v
		return nil
	})
}

// WithMaxKeyLength sets the longest accepted key. Default 255.
func WithMaxKeyLength(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return invalid("max key length must be positive, got %d", n)
		}
		c.maxKeyLength = n
		return nil
	})
}

// WithScope sets which requests share a key space. Default ScopeUserRoute.
func WithScope(s Scope) Option {
	return optionFunc(func(c *config) error {
		if !s.valid() {
			return invalid("unknown scope %q", string(s))
		}
		c.scope = s
		c.scopeResolver = nil
		return nil
	})
}

// WithScopeResolver replaces the built-in scopes with your own. Requests
// for which it returns different strings never see each other's records.
func WithScopeResolver(r ScopeResolver) Option {
	return optionFunc(func(c *config) error {
		if r == nil {
			return invalid("nil scope resolver")
		}
		c.scopeResolver = r
		return nil
	})
}

// WithUserResolver sets how the user scopes find the authenticated user,
// usually from a value an auth middleware put in the framework context.
// An empty result means no user: the anonymous space, which no user id
// can name. Default: every request is anonymous.
func WithUserResolver(f func(Request) string) Option {
	return optionFunc(func(c *config) error {
		c.userResolver = nil
		if f != nil {
			c.userResolver = func(r Request) (string, bool) { return f(r), true }
		}
		return nil
	})
}

// WithUserKey reads the user from the framework context value stored
// under key (gin and echo c.Set, fiber c.Locals, net/http the request
// context's value under the plain string key). The value may be a
// string or a fmt.Stringer.
func WithUserKey(key string) Option {
	return WithUserResolver(func(r Request) string {
		switch v := r.Value(key).(type) {
		case string:
			return v
		case fmt.Stringer:
			return v.String()
		case nil:
			return ""
		default:
			return fmt.Sprint(v)
		}
	})
}

// WithoutPayloadCheck turns fingerprinting off: the body is not read and
// a reused key replays whatever the first request stored. Suits webhooks,
// whose sender guarantees one payload per id. Default: payloads checked.
func WithoutPayloadCheck() Option {
	return optionFunc(func(c *config) error {
		c.checkPayload = false
		return nil
	})
}

// WithPayloadHasher replaces the fingerprint function. Default: canonical
// request hashed with SHA-256 (see CanonicalHasher).
func WithPayloadHasher(h PayloadHasher) Option {
	return optionFunc(func(c *config) error {
		if h == nil {
			return invalid("nil payload hasher")
		}
		c.hasher = h
		c.checkPayload = true
		return nil
	})
}

// WithMaxBodyBytes sets the largest request body that is fingerprinted;
// larger ones get 413. Default 10 MiB.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 1 {
			return invalid("max body bytes must be positive, got %d", n)
		}
		c.maxBodyBytes = n
		return nil
	})
}

// WithMaxResponseBytes sets the largest response body that is stored.
// A larger response is delivered but not stored: it leaves a tombstone,
// so a retry gets result-unavailable instead of running the handler again
// (see WithReleaseUnstored). Default 1 MiB.
func WithMaxResponseBytes(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return invalid("max response bytes must not be negative, got %d", n)
		}
		c.maxResponseBytes = n
		return nil
	})
}

// WithSizeWarning fires SIZE_WARNING for stored responses larger than n
// bytes. Default 256 KiB.
func WithSizeWarning(n int) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return invalid("size warning must not be negative, got %d", n)
		}
		c.sizeWarning = n
		return nil
	})
}

// WithReleaseUnstored releases the claim, instead of leaving a tombstone,
// when a response ran to completion but cannot be stored (larger than the
// max response size, or streamed): a retry then runs the handler again.
// Use it only on routes where a re-run is harmless (a report, a search):
// on a route that charges or ships, the tombstone is what keeps a retry
// from doing it twice. A handler that declared effects (DeclareEffects)
// leaves a tombstone anyway. Default off (tombstones). Tag flag
// "release_unstored".
func WithReleaseUnstored() Option {
	return optionFunc(func(c *config) error {
		c.releaseUnstored = true
		return nil
	})
}

// WithRecordKeys signs every record the Engine stores, and verifies every
// record it reads, with a ring of keys: the first key signs (and
// encrypts, with WithRecordEncryption), any listed key verifies, so keys
// rotate without downtime: add the new key second, deploy everywhere,
// move it first, deploy, and drop the old one once records it signed have
// expired (the longest TTL). Completed responses, tombstones and uncertain
// records carry an HMAC-SHA256 over the store key, state, fingerprint and
// contents; claims one over the store key and fingerprint. A record that
// does not verify (forged, tampered with, copied from another key, signed
// by an unknown key, or written before signing was on) is never replayed
// and never treated as absent: the request fails closed with 503 and
// RECORD_REJECTED fires, in fail-open mode too. Every instance sharing a
// store needs the same ring. Secrets are at least MinRecordSecret bytes;
// ParseRecordKeys reads a ring from a flag or the environment. Default:
// records are not signed.
func WithRecordKeys(keys ...RecordKey) Option {
	return optionFunc(func(c *config) error {
		if _, err := newKeyRing(keys); err != nil {
			return err
		}
		c.recordKeys = append([]RecordKey(nil), keys...)
		return nil
	})
}

// WithRecordEncryption encrypts stored responses (status, headers and
// body) and reasons with AES-256-GCM under the signing key of
// WithRecordKeys, for APIs whose responses carry personal data: the store
// then holds ciphertext, which also authenticates it. It needs
// WithRecordKeys. Records already stored signed in clear stay readable
// (they are authentic), so it can be turned on at any time. It costs a
// 28-byte overhead per record and one AES-GCM pass over the body on each
// store and replay. Default off.
func WithRecordEncryption() Option {
	return optionFunc(func(c *config) error {
		c.encrypt = true
		return nil
	})
}

// MinDerivedKeySecret is the shortest secret WithDerivedKeySecret accepts.
const MinDerivedKeySecret = 16

// WithDerivedKeySecret sets the secret DerivedKey derives downstream keys
// with (HMAC-SHA256). Every instance serving the same routes must share
// it, and it must stay the same across restarts: a derived key is only
// useful if a re-run on another instance, or after a crash, derives the
// same one. Keep it secret, as anyone holding it can compute the keys a
// payment provider will deduplicate on. At least MinDerivedKeySecret
// bytes. Default none: DerivedKey returns ErrNoDerivedKeySecret.
func WithDerivedKeySecret(secret []byte) Option {
	return optionFunc(func(c *config) error {
		if len(secret) < MinDerivedKeySecret {
			return invalid("derived-key secret must be at least %d bytes, got %d", MinDerivedKeySecret, len(secret))
		}
		c.derivedSecret = append([]byte(nil), secret...)
		return nil
	})
}

// WithCacheable decides which statuses are stored and replayed; others
// release the claim so a retry runs fresh. 5xx are never stored, whatever
// it answers. Default DefaultCacheable.
func WithCacheable(f func(status int) bool) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return invalid("nil cacheable func")
		}
		c.cacheable = f
		return nil
	})
}

// WithReplayHeaders stores and replays only the named response headers
// (plus Content-Type): an allowlist. Default: every header the handler
// set, except hop-by-hop ones, Date, Content-Length and Set-Cookie, which
// are never stored nor replayed. Headers that outer middleware set before
// the idempotency middleware ran are never stored either: outer
// middleware sets its own on a replay.
func WithReplayHeaders(names ...string) Option {
	return optionFunc(func(c *config) error {
		c.headers.allow = make([]string, 0, len(names))
		for _, n := range names {
			c.headers.allow = append(c.headers.allow, http.CanonicalHeaderKey(n))
		}
		return nil
	})
}

// WithReplayHeadersExcept never stores nor replays the named response
// headers, on top of the ones that never are (hop-by-hop, Date,
// Content-Length, Set-Cookie): a denylist, e.g. for a per-response trace
// or signature header the handler sets. It combines with an allowlist.
func WithReplayHeadersExcept(names ...string) Option {
	return optionFunc(func(c *config) error {
		c.headers.deny = make(map[string]bool, len(names))
		for _, n := range names {
			c.headers.deny[http.CanonicalHeaderKey(n)] = true
		}
		return nil
	})
}

// WithReplayedHeader adds "Idempotent-Replayed: true" to replays, for
// clients that know that header. Default off.
func WithReplayedHeader(on bool) Option {
	return optionFunc(func(c *config) error {
		c.replayedHeader = on
		return nil
	})
}

// WithSerializer sets how responses are encoded in the store.
// Default BinarySerializer.
func WithSerializer(s ResponseSerializer) Option {
	return optionFunc(func(c *config) error {
		if s == nil {
			return invalid("nil serializer")
		}
		c.serializer = s
		return nil
	})
}

// WithFailOpen lets requests through without idempotency when the store
// is unavailable. Default false: fail closed with 503 and Retry-After,
// because running a payment twice is worse than asking for a retry.
// Failing open never bypasses an integrity check: a record the store
// holds but that cannot be trusted (an unknown format version, a record
// that cannot be decoded) is never treated as absent, and the request
// fails closed with 503 in both modes.
func WithFailOpen(open bool) Option {
	return optionFunc(func(c *config) error {
		c.failOpen = open
		return nil
	})
}

// WithStoreTimeout bounds every store call the Engine makes (claim,
// completion, release, renewal) on top of the request's own deadline, so
// that a stalled store answers 503 within d on every adapter, including
// those whose context has no deadline (Fiber). Default 2 s. 0 disables
// the bound. Stores whose calls never block (the memory store) ignore it.
//
// A Redis client honours deadlines only with ContextTimeoutEnabled set
// (see storage/redis).
func WithStoreTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return invalid("negative store timeout %v", d)
		}
		c.storeTimeout = d
		return nil
	})
}

// WithErrorResponder replaces the RFC 9457 problem+json error responses.
func WithErrorResponder(r ErrorResponder) Option {
	return optionFunc(func(c *config) error {
		if r == nil {
			return invalid("nil error responder")
		}
		c.responder = r
		return nil
	})
}

// WithTelemetry sets the driver that receives events and measurements.
// Default: none (telemetry.Null).
func WithTelemetry(d TelemetryDriver) Option {
	return optionFunc(func(c *config) error {
		if d == nil {
			return invalid("nil telemetry driver")
		}
		c.telemetry = d
		return nil
	})
}

// WithAlertHandler adds a handler that receives events, at most once per
// event type and scope per cooldown window. Any number may be added.
func WithAlertHandler(h AlertHandler) Option {
	return optionFunc(func(c *config) error {
		if h == nil {
			return invalid("nil alert handler")
		}
		c.alerts = append(c.alerts[:len(c.alerts):len(c.alerts)], h)
		return nil
	})
}

// WithAlertCooldown sets the quiet time after an alert for the same event
// type and scope. The cooldown is shared through the store when the store
// implements Cooldowns. Default 1h.
func WithAlertCooldown(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d < 0 {
			return invalid("alert cooldown must not be negative, got %v", d)
		}
		c.alertCooldown = d
		return nil
	})
}

// WithDuplicateThreshold fires RESPONSE_DUPLICATE when one key has been
// replayed this many times in this process. Default 5.
func WithDuplicateThreshold(hits int) Option {
	return optionFunc(func(c *config) error {
		if hits < 1 {
			return invalid("duplicate threshold must be positive, got %d", hits)
		}
		c.duplicateHits = hits
		return nil
	})
}

// WithKeyRedaction controls whether events carry keys as a hash prefix
// (true) or in clear (false). Default true.
func WithKeyRedaction(on bool) Option {
	return optionFunc(func(c *config) error {
		c.redactKeys = on
		return nil
	})
}

// Options bundles several options into one, e.g. for a shared preset.
func Options(opts ...Option) Option {
	return optionFunc(func(c *config) error {
		for _, o := range opts {
			if o == nil {
				continue
			}
			if err := o.apply(c); err != nil {
				return err
			}
		}
		return nil
	})
}
