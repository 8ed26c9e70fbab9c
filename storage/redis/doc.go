// Package idemredis is the distributed store of idemkit, on go-redis v9.
// It works with any redis.UniversalClient: a standalone server, Sentinel
// (redis.NewFailoverClient) or Redis Cluster (redis.NewClusterClient).
//
//	rdb := redis.NewClient(&redis.Options{
//		Addr:                  "localhost:6379",
//		ContextTimeoutEnabled: true, // required for deadlines, see below
//		ReadTimeout:           time.Second,
//		MaxRetries:            1,
//	})
//	store := idemredis.New(rdb, idemredis.WithPrefix("idem:"))
//	r.Use(idemgin.New(core.WithStore(store)))
//
// # Deadlines: set ContextTimeoutEnabled
//
// go-redis ignores the context's deadline when it reads a reply unless the
// client has ContextTimeoutEnabled: without it, a store call waiting for a
// slow Redis waits the client's own ReadTimeout (5 s by default in
// go-redis v9.22), whatever deadline the Engine or the request put on
// it, so a slow Redis holds requests for seconds instead of failing them
// fast. New logs a warning, once per process through log/slog's default
// logger, when it is given a *redis.Client, *redis.ClusterClient or
// *redis.Ring (the Sentinel constructors return those too) without it;
// it never changes the client's options. Recommended client settings:
//
//   - ContextTimeoutEnabled: true;
//   - ReadTimeout (and WriteTimeout) of 500 ms to 1 s: far above a
//     script's run time, well below the lease;
//   - MaxRetries: 1. go-redis resends a command whose reply timed out;
//     the store's scripts make that harmless (a resent Begin gets its own
//     claim back by the attempt's nonce, a resent Complete or Release is
//     recognised), but more retries only stretch an outage's latency.
//
// Give lease renewals their own small client with WithRenewClient, so
// that they never wait behind request traffic for a connection.
//
// # Records and scripts
//
// Each record is one Redis hash whose key carries the scoped idempotency
// key inside a cluster hash tag, so every operation touches one slot: the
// prefix (WithPrefix, default "idem:"), then "{", the scoped key, "}"
// (Store.RecordKey gives it, for redis-cli).
// Begin, Renew, Commit, Complete, Release and Resolve are each one Lua
// script, run with EVALSHA (falling back to EVAL when the server's script
// cache was flushed): a replay costs one round trip and a first request
// two. RenewBatch renews any number of claims in one pipeline. Call
// LoadScripts (and Ping) at start-up to load the scripts before the first
// request and fail fast when Redis is unreachable; both are optional.
//
// A committed claim (Commit) whose owner dies is never taken over: the
// first Begin after its lease turns it into an uncertain record, which
// stays until an operator resolves it (Resolve, or idemctl resolve) or it
// expires.
//
// Fencing tokens are the Redis server's clock in microseconds, bumped past
// the key's previous token, so they increase per key and a stale owner's
// token never matches a newer claim. Every key carries a TTL.
//
// # Waiting duplicates
//
// The Store is a core.Notifier: duplicates of an in-flight request are
// woken when its claim ends instead of polling Redis. A Begin that finds
// a claim in flight marks the record (hash field w); Complete and Release
// of a marked record PUBLISH its key on the channel prefix + "ended",
// within their script (no extra round trip, and nothing for keys nobody
// waits on). The first Watch subscribes to that channel on one connection
// of its own, shared by every waiting request of the Store and kept until
// Close; PUBLISH reaches every node of a cluster. Messages published
// while that connection is down are lost, which costs the waiters
// latency, not correctness: the Engine still Begins when the lock wait
// or the claim's lease ends. Instances of an older release publish
// nothing: their duplicates poll, and this release's duplicates of their
// claims wait for their lock wait or lease end.
package idemredis
