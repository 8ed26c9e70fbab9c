package idemredis

import "github.com/redis/go-redis/v9"

// DefaultPrefix starts every key the store writes.
const DefaultPrefix = "idem:"

type config struct {
	prefix string
	renew  redis.UniversalClient
}

// Option configures a Store.
type Option func(*config)

// WithPrefix sets the prefix of every key the store writes, so that one
// Redis database can be shared with other data or between applications.
// Default "idem:".
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithRenewClient sends lease renewals (Renew, RenewBatch) through their
// own client, e.g. one with a small pool of its own, instead of the
// request client.
//
// Renewals must not queue behind request traffic: when every connection
// of the request client's pool is busy (say 200 requests in flight at
// 200 ms of Redis latency on a pool of 20), a renewal waits for a free
// connection, and a wait longer than the lease's slack loses the lease of
// a handler that is still running. A renewal pass needs little: the
// Engine renews every due claim in one RenewBatch, which is one pipeline,
// so one connection per Redis node per pass (a PoolSize of 2 to 4 is
// plenty). Point it at the same servers as the request client, with
// ContextTimeoutEnabled set:
//
//	renew := redis.NewClient(&redis.Options{Addr: "localhost:6379", PoolSize: 2,
//		ContextTimeoutEnabled: true, ReadTimeout: time.Second, MaxRetries: 1})
//	store := idemredis.New(rdb, idemredis.WithRenewClient(renew))
//
// The store does not close it. nil keeps renewals on the request client.
func WithRenewClient(rdb redis.UniversalClient) Option {
	return func(c *config) { c.renew = rdb }
}
