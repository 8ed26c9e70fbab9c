package memory

import "time"

// Default bounds.
const (
	DefaultMaxEntries = 100_000
	shardCount        = 64
)

type config struct {
	maxEntries int
	now        func() time.Time
}

// Option configures a Store.
type Option func(*config)

// WithMaxEntries bounds the number of records. When full, the oldest
// record that is not a live claim is evicted; a retry of an evicted key
// runs again, so size the bound above your traffic × TTL. Default 100,000.
func WithMaxEntries(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxEntries = n
		}
	}
}

// WithClock sets the time source, for tests. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}
