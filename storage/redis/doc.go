// Package idemredis is the distributed store of idemkit, on go-redis v9.
// It works with any redis.UniversalClient: a standalone server, Sentinel
// (redis.NewFailoverClient) or Redis Cluster (redis.NewClusterClient).
//
//	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
//	store := idemredis.New(rdb, idemredis.WithPrefix("idem:"))
//	r.Use(idemgin.New(core.WithStore(store)))
//
// Each record is one Redis hash whose key carries the scoped idempotency
// key inside a cluster hash tag, so every operation touches one slot.
// Begin, Renew, Complete and Release are each one Lua script, run with
// EVALSHA (falling back to EVAL when the server's script cache was
// flushed): a replay costs one round trip and a first request two.
//
// Fencing tokens are the Redis server's clock in microseconds, bumped past
// the key's previous token, so they increase per key and a stale owner's
// token never matches a newer claim. Every key carries a TTL.
package idemredis
