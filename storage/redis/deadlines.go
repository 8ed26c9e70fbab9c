package idemredis

import (
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"
)

var warnOnce sync.Once

// warnDeadlines logs, once per process, that a client ignores context
// deadlines: go-redis only honours them with ContextTimeoutEnabled, and
// otherwise waits for its own ReadTimeout and retries whatever deadline
// the Engine set on the store call.
func warnDeadlines(rdb redis.UniversalClient, which string) {
	if !ignoresDeadlines(rdb) {
		return
	}
	warnOnce.Do(func() {
		slog.Warn("idemredis: the Redis " + which + " ignores context deadlines (ContextTimeoutEnabled is false); " +
			"store calls can outlive the Engine's store timeout and the request. " +
			"Set ContextTimeoutEnabled: true, ReadTimeout of 500ms to 1s and MaxRetries: 1 on the client.")
	})
}

// ignoresDeadlines reports whether rdb is a go-redis client, with options
// to read, whose ContextTimeoutEnabled is false. Clients it cannot look
// into (wrappers, nil) are given the benefit of the doubt.
func ignoresDeadlines(rdb redis.UniversalClient) bool {
	switch c := rdb.(type) {
	case *redis.Client: // also redis.NewFailoverClient
		return c != nil && !c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient: // also redis.NewFailoverClusterClient
		return c != nil && !c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c != nil && !c.Options().ContextTimeoutEnabled
	}
	return false
}
