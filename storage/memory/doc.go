// Package memory is the embedded default store of idemkit: sharded maps
// with TTL expiry, bounded in records and in bytes, and the same leases
// and fencing tokens as the distributed store.
//
// The framework adapters use Default, one store per process, when no
// store is configured. Give an Engine a store of your own, with bounds
// sized for the traffic (see Sizing), through core.WithStore:
//
//	store := memory.New(memory.WithMaxEntries(200_000), memory.WithMaxBytes(512<<20))
//	r.Use(idemgin.New(core.WithStore(store)))
//
// Stats reports its size and what the bounds did, for metrics.
//
// # One process only
//
// It keeps state in this process only. Behind a load balancer with several
// instances, each instance has its own records and a retry that lands on
// another instance runs again; a restart forgets every record. Use the
// Redis store (storage/redis) there.
//
// # Bounds
//
// A Store holds at most WithMaxEntries records (default 100,000) and
// WithMaxBytes accounted bytes (default 256 MiB), counted over the whole
// store, not per shard. A record is accounted EntryOverhead (200 bytes:
// the entry and its map slot) plus its key plus its stored response, that
// is the encoded status, headers and body (at most the Engine's
// MaxResponseBytes). The key is the scope and the idempotency
// key (e.g. "31:user_route:<user id>|POST /payments:<uuid>", about 80
// bytes), so a typical record with a 1 KiB response takes about 1.3 KiB.
//
// At the bound, a new record first makes the store reclaim every expired
// record and every uncommitted in-flight claim whose lease has expired
// (its owner is presumed dead; a retry would take it over). Only if that
// is not enough does it evict live final records (completed responses,
// tombstones, uncertain records), those closest to their expiry first
// (for records of one TTL, the oldest), from the new record's shard
// first. Each eviction before the TTL makes a re-run possible, so each is
// counted in Stats; those made by Begin are also reported in
// BeginResult.Evicted, which the Engine turns into EventRecordEvicted
// (Complete, making room for a response, has no way to report them).
// Claims whose lease is live are never evicted, and neither are committed
// claims (their handler declared effects) before their TTL, even when
// their lease has expired: a free key would let a retry repeat the
// effects, so Begin turns such a claim into an uncertain record instead.
// When every record is such a claim, new claims fail with ErrFull
// (wrapped in core.ErrStoreUnavailable: 503, or a pass-through when the
// Engine fails open).
//
// A response that alone exceeds the byte bound is refused with an error
// wrapping core.ErrPayloadTooLarge (and ErrTooLarge), on which the Engine
// leaves a tombstone: the reason of a tombstone or uncertain record is
// dropped rather than refused when it does not fit, so that those always
// can be written.
//
// # Sizing
//
// Records live for their TTL, so the store holds about (unique keys per
// second) × TTL records. Size both bounds above that with headroom:
//
//	MaxEntries ≥ rate × TTL             10 req/s × 24 h = 864,000
//	MaxBytes   ≥ MaxEntries × (200 + key + response)
//	           = 864,000 × (200 + 80 + 1 KiB) ≈ 1.1 GB
//
// The defaults (100,000 records, 256 MiB) fit about 1.1 unique requests/s
// at the default 24 h TTL, or 27 requests/s at 1 h. Shorter TTLs make a
// store much smaller; a route with a long TTL and a route with a short
// one share the bounds. Keep Stats().Evicted at 0: if it rises, raise the
// bounds, shorten TTLs, or use the Redis store.
//
// A flood of unique keys still evicts other clients' completed records
// once the bound is reached: every new key is a legitimate request as far
// as the store can tell. The bounds keep the process alive; they do not
// protect other users. Put a rate limiter per client (user, API key or
// IP) in front of the idempotency middleware, so that one client cannot
// fill the store.
package memory
