package idemclient

import (
	"context"
	"net/http"
	"time"
)

// Default values of the options.
const (
	// DefaultHeaderName is the request header that carries the key.
	DefaultHeaderName = "Idempotency-Key"
	// DefaultMaxAttempts is the number of attempts of one logical request,
	// the first one included.
	DefaultMaxAttempts = 4
	// DefaultBackoffBase is the ceiling of the first backoff delay.
	DefaultBackoffBase = 100 * time.Millisecond
	// DefaultBackoffMax caps every delay, Retry-After included.
	DefaultBackoffMax = 5 * time.Second
	// DefaultMaxBodyBytes is the largest request body buffered for retries.
	DefaultMaxBodyBytes = 10 << 20
)

// config is the resolved configuration of a Transport.
type config struct {
	maxAttempts  int
	backoffBase  time.Duration
	backoffMax   time.Duration
	headerName   string
	maxBodyBytes int64
	keyFunc      func(context.Context) (string, error)
	retryOn      func(*http.Response, error) bool
}

func newConfig(opts []Option) config {
	c := config{
		maxAttempts:  DefaultMaxAttempts,
		backoffBase:  DefaultBackoffBase,
		backoffMax:   DefaultBackoffMax,
		headerName:   DefaultHeaderName,
		maxBodyBytes: DefaultMaxBodyBytes,
		keyFunc:      func(context.Context) (string, error) { return NewKey(), nil },
		retryOn:      DefaultRetryOn,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// Option configures a Transport.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (o optionFunc) apply(c *config) { o(c) }

// WithMaxAttempts sets how many times one logical request is sent, the
// first attempt included. Values below 1 mean 1 (no retries).
// Default DefaultMaxAttempts (4).
func WithMaxAttempts(n int) Option {
	return optionFunc(func(c *config) {
		c.maxAttempts = max(n, 1)
	})
}

// WithBackoff sets the exponential backoff with full jitter: the delay
// before retry n (n = 1, 2, …) is uniformly random in
// [0, min(max, base·2^(n-1))]. max also caps a server's Retry-After. A
// non-positive base keeps the default; a max below base is raised to base.
// Default DefaultBackoffBase (100ms) and DefaultBackoffMax (5s).
func WithBackoff(base, max time.Duration) Option {
	return optionFunc(func(c *config) {
		if base > 0 {
			c.backoffBase = base
		}
		c.backoffMax = max
		if c.backoffMax < c.backoffBase {
			c.backoffMax = c.backoffBase
		}
	})
}

// WithHeaderName sets the header that carries the key, e.g. the one the
// server was configured with (core.WithHeaderName). An empty name keeps
// the default. Default DefaultHeaderName ("Idempotency-Key").
func WithHeaderName(name string) Option {
	return optionFunc(func(c *config) {
		if name != "" {
			c.headerName = http.CanonicalHeaderKey(name)
		}
	})
}

// WithMaxBodyBytes sets the largest request body the Transport buffers so
// that every attempt sends the same bytes. A larger body is sent once,
// without retries, unless the request has a GetBody func (http.NewRequest
// sets one for *bytes.Buffer, *bytes.Reader and *strings.Reader bodies),
// which is then used instead of a buffer. 0 buffers nothing.
// Default DefaultMaxBodyBytes (10 MiB).
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) {
		c.maxBodyBytes = max(n, 0)
	})
}

// WithKeyFunc sets where the key of a request comes from: fn gets the
// request's context and returns the key, e.g. one derived for a downstream
// call from the idempotency claim the caller runs under:
//
//	idemclient.New(nil, idemclient.WithKeyFunc(func(ctx context.Context) (string, error) {
//		return core.DerivedKey(ctx, "psp")
//	}))
//
// fn is called only for POST, PUT, PATCH and DELETE requests whose key
// header (WithHeaderName) is missing or empty: a key the caller set on the
// request wins, and fn is not called at all. fn is called once per logical
// request, before anything is sent, and its key is sent on every attempt
// of that request; it is never called per retry. It must be safe for
// concurrent use, as the Transport is.
//
// When fn returns an error, RoundTrip returns an error that wraps it
// (errors.Is and errors.As see it), and nothing is sent. When fn returns
// an empty key, RoundTrip returns an error that wraps ErrEmptyKey, and
// nothing is sent. The Transport never falls back to a random key, nor
// sends the request without one: either would defeat the deduplication
// the key exists for. A caller who wants a fallback writes it in fn.
//
// A nil fn keeps the default. Default NewKey, a random UUID v4.
func WithKeyFunc(fn func(ctx context.Context) (string, error)) Option {
	return optionFunc(func(c *config) {
		if fn != nil {
			c.keyFunc = fn
		}
	})
}

// WithRetryOn sets which outcomes of an attempt are retried: f gets the
// response (nil on error) and the error of the attempt. The safety rules
// hold whatever f says: a 422 is never retried, nor a request that has no
// key and a non-idempotent method, nor one whose body cannot be sent
// again, nor one whose context is done. Default DefaultRetryOn.
func WithRetryOn(f func(resp *http.Response, err error) bool) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.retryOn = f
		}
	})
}
