package idemredis

// DefaultPrefix starts every key the store writes.
const DefaultPrefix = "idem:"

type config struct {
	prefix string
}

// Option configures a Store.
type Option func(*config)

// WithPrefix sets the prefix of every key the store writes, so that one
// Redis database can be shared with other data or between applications.
// Default "idem:".
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}
