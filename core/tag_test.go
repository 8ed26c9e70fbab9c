package core

import (
	"context"
	"errors"
	"hash"
	"hash/fnv"
	"strings"
	"testing"
	"time"
)

// stubStore satisfies Store for construction tests; no test here calls it.
type stubStore struct{}

func (stubStore) Begin(context.Context, string, Attempt) (BeginResult, error) {
	return BeginResult{}, ErrStoreUnavailable
}
func (stubStore) Renew(context.Context, string, uint64, time.Duration) error   { return ErrLeaseLost }
func (stubStore) Commit(context.Context, string, uint64, []byte) error         { return ErrLeaseLost }
func (stubStore) Resolve(context.Context, string, []byte, time.Duration) error { return ErrNotFound }
func (stubStore) Complete(context.Context, string, uint64, State, []byte, time.Duration) error {
	return ErrLeaseLost
}
func (stubStore) Release(context.Context, string, uint64) error { return ErrLeaseLost }
func (stubStore) Get(context.Context, string) (Record, error)   { return Record{}, ErrNotFound }
func (stubStore) Delete(context.Context, string) error          { return nil }

func newTestEngine(t *testing.T, opts ...Option) *Engine {
	t.Helper()
	e, err := New(append([]Option{WithStore(stubStore{})}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func (c *config) methodList() []string { return append([]string(nil), c.methods[:c.nMethods]...) }

func TestDefaults(t *testing.T) {
	c := newTestEngine(t).cfg
	if c.ttl != DefaultTTL || c.lease != DefaultLease || c.lockWait != DefaultLockWait {
		t.Errorf("durations = %v %v %v", c.ttl, c.lease, c.lockWait)
	}
	if c.optional || c.failOpen || !c.checkPayload {
		t.Errorf("flags optional=%v failOpen=%v checkPayload=%v", c.optional, c.failOpen, c.checkPayload)
	}
	if c.scope != ScopeUserRoute || c.maxKeyLength != 255 || c.maxBodyBytes != 10<<20 {
		t.Errorf("scope=%q maxKey=%d maxBody=%d", c.scope, c.maxKeyLength, c.maxBodyBytes)
	}
	if got := strings.Join(c.methodList(), ","); got != "POST,PUT,PATCH,DELETE" {
		t.Errorf("methods = %s", got)
	}
	if c.extractor != HeaderKey(DefaultHeaderName) {
		t.Errorf("extractor = %#v", c.extractor)
	}
	if _, ok := c.validator.(uuidValidator); !ok {
		t.Errorf("validator = %T, want UUID", c.validator)
	}
	if c.renewEvery != DefaultLease/3 {
		t.Errorf("renewEvery = %v", c.renewEvery)
	}
}

func TestTagItems(t *testing.T) {
	tests := []struct {
		tag   string
		check func(c *config) bool
	}{
		{"optional", func(c *config) bool { return c.optional }},
		{"optional,required", func(c *config) bool { return !c.optional }},
		{"required", func(c *config) bool { return !c.optional }},
		{"nopayload", func(c *config) bool { return !c.checkPayload }},
		{"failopen", func(c *config) bool { return c.failOpen }},
		{"failopen,failclosed", func(c *config) bool { return !c.failOpen }},
		{"ttl=60s", func(c *config) bool { return c.ttl == 60*time.Second }},
		{"ttl=1h30m", func(c *config) bool { return c.ttl == 90*time.Minute }},
		{"lease=45s", func(c *config) bool { return c.lease == 45*time.Second && c.renewEvery == 15*time.Second }},
		{"wait=2s", func(c *config) bool { return c.lockWait == 2*time.Second }},
		{"wait=0s", func(c *config) bool { return c.lockWait == 0 }},
		{"scope=global", func(c *config) bool { return c.scope == ScopeGlobal }},
		{"scope=user", func(c *config) bool { return c.scope == ScopeUser }},
		{"scope=route", func(c *config) bool { return c.scope == ScopeRoute }},
		{"scope=ip", func(c *config) bool { return c.scope == ScopeIP }},
		{"scope=user_route", func(c *config) bool { return c.scope == ScopeUserRoute }},
		{"scope=IP", func(c *config) bool { return c.scope == ScopeIP }},
		{"methods=POST|put", func(c *config) bool { return strings.Join(c.methodList(), ",") == "POST,PUT" }},
		{"methods=PATCH", func(c *config) bool { return strings.Join(c.methodList(), ",") == "PATCH" }},
		{"key=uuid", func(c *config) bool { _, ok := c.validator.(uuidValidator); return ok }},
		{"key=ulid", func(c *config) bool { _, ok := c.validator.(ulidValidator); return ok }},
		{"key=token", func(c *config) bool { _, ok := c.validator.(tokenValidator); return ok }},
		{"key=ULID", func(c *config) bool { _, ok := c.validator.(ulidValidator); return ok }},
		{"header=X-Webhook-ID", func(c *config) bool { return c.extractor == HeaderKey("X-Webhook-ID") }},
		{"maxkey=64", func(c *config) bool { return c.maxKeyLength == 64 }},
		{"maxbody=1024", func(c *config) bool { return c.maxBodyBytes == 1024 }},
		{"", func(c *config) bool { return !c.optional && c.ttl == DefaultTTL }},
		{" , ,", func(c *config) bool { return !c.optional && c.ttl == DefaultTTL }},
		{" OPTIONAL , TTL = 5m ", func(c *config) bool { return c.optional && c.ttl == 5*time.Minute }},
		{"optional,ttl=60s,scope=ip,wait=2s", func(c *config) bool {
			return c.optional && c.ttl == time.Minute && c.scope == ScopeIP && c.lockWait == 2*time.Second &&
				c.lease == DefaultLease && c.checkPayload && !c.failOpen
		}},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			e := newTestEngine(t, Tag(tt.tag))
			if !tt.check(&e.cfg) {
				t.Fatalf("Tag(%q) did not apply: %+v", tt.tag, e.cfg)
			}
		})
	}
}

func TestTagOverridesAndIsOverridden(t *testing.T) {
	e := newTestEngine(t, WithTTL(time.Hour), Tag("ttl=2m"))
	if e.cfg.ttl != 2*time.Minute {
		t.Fatalf("tag after option: ttl = %v", e.cfg.ttl)
	}
	e = newTestEngine(t, Tag("ttl=2m"), WithTTL(time.Hour))
	if e.cfg.ttl != time.Hour {
		t.Fatalf("option after tag: ttl = %v", e.cfg.ttl)
	}
	e = newTestEngine(t, WithScopeResolver(ScopeResolverFunc(func(Request) (string, error) { return "x", nil })), Tag("scope=ip"))
	if e.cfg.scopeResolver != nil || e.scopeName != "ip" {
		t.Fatalf("scope tag did not replace the resolver: %v %q", e.cfg.scopeResolver, e.scopeName)
	}
}

func TestTagErrors(t *testing.T) {
	tests := []struct {
		tag  string
		name string // must appear in the error text
	}{
		{"bogus", "bogus"},
		{"optional,bogus", "bogus"},
		{"ttl", "ttl"},
		{"ttl=", "ttl"},
		{"ttl=60", "60"},
		{"ttl=abc", "abc"},
		{"ttl=0s", "ttl"},
		{"ttl=-1s", "ttl"},
		{"lease=5ms", "lease"},
		{"lease=x", "lease"},
		{"wait=-1s", "wait"},
		{"wait=soon", "soon"},
		{"scope=planet", "planet"},
		{"scope=", "scope"},
		{"methods=", "method"},
		{"methods=POST||PUT", "method"},
		{"methods=POST|GET PUT", "GET PUT"},
		{"methods=A|B|C|D|E|F|G|H|I", "method"},
		{"key=regex", "regex"},
		{"key=", "key"},
		{"header=", "header"},
		{"header=X Key", "X Key"},
		{"header=X:Key", "X:Key"},
		{"maxkey=0", "max key"},
		{"maxkey=-5", "max key"},
		{"maxkey=ten", "ten"},
		{"maxbody=0", "max body"},
		{"maxbody=1e6", "1e6"},
		{"=x", `""`},
		{"optional=true", "optional"},
		{"colour=red", "colour"},
	}
	for _, tt := range tests {
		t.Run(tt.tag, func(t *testing.T) {
			e, err := New(WithStore(stubStore{}), Tag(tt.tag))
			if !errors.Is(err, ErrInvalidOption) || e != nil {
				t.Fatalf("New(Tag(%q)) = %v, %v; want ErrInvalidOption", tt.tag, e, err)
			}
			if !strings.Contains(err.Error(), tt.name) {
				t.Fatalf("error %q does not name %q", err, tt.name)
			}
		})
	}
}

func TestOptionValidation(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
	}{
		{"no store", nil},
		{"nil store", []Option{WithStore(nil)}},
		{"ttl zero", []Option{WithStore(stubStore{}), WithTTL(0)}},
		{"ttl negative", []Option{WithStore(stubStore{}), WithTTL(-time.Second)}},
		{"lease 1ms", []Option{WithStore(stubStore{}), WithLease(time.Millisecond)}},
		{"lease 9ms", []Option{WithStore(stubStore{}), WithLease(9 * time.Millisecond)}},
		{"lock wait negative", []Option{WithStore(stubStore{}), WithLockWait(-time.Nanosecond)}},
		{"no methods", []Option{WithStore(stubStore{}), WithMethods()}},
		{"empty method", []Option{WithStore(stubStore{}), WithMethods("POST", "")}},
		{"method with comma", []Option{WithStore(stubStore{}), WithMethods("POST,PUT")}},
		{"nine methods", []Option{WithStore(stubStore{}), WithMethods("A", "B", "C", "D", "E", "F", "G", "H", "I")}},
		{"header empty", []Option{WithStore(stubStore{}), WithHeaderName("")}},
		{"nil extractor", []Option{WithStore(stubStore{}), WithKeyExtractor(nil)}},
		{"nil validator", []Option{WithStore(stubStore{}), WithKeyValidator(nil)}},
		{"max key 0", []Option{WithStore(stubStore{}), WithMaxKeyLength(0)}},
		{"scope unknown", []Option{WithStore(stubStore{}), WithScope("planet")}},
		{"scope upper case", []Option{WithStore(stubStore{}), WithScope("IP")}},
		{"nil resolver", []Option{WithStore(stubStore{}), WithScopeResolver(nil)}},
		{"nil hasher", []Option{WithStore(stubStore{}), WithPayloadHasher(nil)}},
		{"nil hash", []Option{WithStore(stubStore{}), WithHashAlgorithm(nil)}},
		{"ignored empty path", []Option{WithStore(stubStore{}), WithIgnoredFields("")}},
		{"ignored leading dot", []Option{WithStore(stubStore{}), WithIgnoredFields(".a")}},
		{"ignored trailing dot", []Option{WithStore(stubStore{}), WithIgnoredFields("a.")}},
		{"ignored double dot", []Option{WithStore(stubStore{}), WithIgnoredFields("a..b")}},
		{"ignored with own hasher", []Option{WithStore(stubStore{}), WithIgnoredFields("a"), WithPayloadHasher(MustCanonicalHasher())}},
		{"hash with own hasher", []Option{WithStore(stubStore{}), WithPayloadHasher(MustCanonicalHasher()), WithHashAlgorithm(fnv128)}},
		{"multipart limits with own hasher", []Option{WithStore(stubStore{}), WithMultipartLimits(10, 0), WithPayloadHasher(MustCanonicalHasher())}},
		{"no files with own hasher", []Option{WithStore(stubStore{}), WithPayloadHasher(MustCanonicalHasher()), WithoutFiles()}},
		{"max body 0", []Option{WithStore(stubStore{}), WithMaxBodyBytes(0)}},
		{"max response negative", []Option{WithStore(stubStore{}), WithMaxResponseBytes(-1)}},
		{"size warning negative", []Option{WithStore(stubStore{}), WithSizeWarning(-1)}},
		{"nil cacheable", []Option{WithStore(stubStore{}), WithCacheable(nil)}},
		{"nil serializer", []Option{WithStore(stubStore{}), WithSerializer(nil)}},
		{"nil responder", []Option{WithStore(stubStore{}), WithErrorResponder(nil)}},
		{"nil telemetry", []Option{WithStore(stubStore{}), WithTelemetry(nil)}},
		{"nil alert handler", []Option{WithStore(stubStore{}), WithAlertHandler(nil)}},
		{"negative cooldown", []Option{WithStore(stubStore{}), WithAlertCooldown(-time.Second)}},
		{"duplicate threshold 0", []Option{WithStore(stubStore{}), WithDuplicateThreshold(0)}},
		{"bad option inside Options", []Option{WithStore(stubStore{}), Options(WithTTL(time.Hour), WithTTL(0))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New(tt.opts...)
			if !errors.Is(err, ErrInvalidOption) || e != nil {
				t.Fatalf("New = %v, %v; want ErrInvalidOption", e, err)
			}
		})
	}
}

func TestOptionBoundaries(t *testing.T) {
	e := newTestEngine(t, WithLease(10*time.Millisecond), WithLockWait(0), WithMaxKeyLength(1),
		WithMethods("post", "A", "B", "C", "D", "E", "F", "G"), WithMaxBodyBytes(1), WithMaxResponseBytes(0), nil)
	c := e.cfg
	if c.lease != 10*time.Millisecond || c.lockWait != 0 || c.maxKeyLength != 1 || c.maxBodyBytes != 1 || c.maxResponseBytes != 0 {
		t.Fatalf("boundary values not applied: %+v", c)
	}
	if !c.hasMethod("POST") || c.hasMethod("post") || c.hasMethod("GET") || c.nMethods != 8 {
		t.Fatalf("methods = %v", c.methodList())
	}
}

// TTL shorter than the lease is accepted: in-flight claims are kept for at
// least twice the lease whatever the TTL of completed records.
func TestTTLShorterThanLease(t *testing.T) {
	e := newTestEngine(t, WithTTL(time.Second), WithLease(30*time.Second))
	if e.cfg.ttl != time.Second || e.claimTTL != time.Minute {
		t.Fatalf("ttl=%v claimTTL=%v, want 1s and 1m", e.cfg.ttl, e.claimTTL)
	}
	e = newTestEngine(t, WithTTL(time.Hour), WithLease(time.Second))
	if e.claimTTL != time.Hour {
		t.Fatalf("claimTTL=%v, want 1h", e.claimTTL)
	}
}

func TestHashAlgorithmTooShort(t *testing.T) {
	short := func() hash.Hash { return fnv.New64() }
	_, err := New(WithStore(stubStore{}), WithHashAlgorithm(short))
	if !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("8-byte hash accepted: %v", err)
	}
}

func TestHashAlgorithmAccepted(t *testing.T) {
	e := newTestEngine(t, WithHashAlgorithm(func() hash.Hash { return fnv.New128() }))
	in := post(jsonCT, `{"a":1}`)
	if fp(t, e.cfg.hasher, in) == fp(t, MustCanonicalHasher(), in) {
		t.Fatal("hash algorithm not kept")
	}
}
