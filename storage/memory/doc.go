// Package memory is the embedded default store of idemkit: sharded maps
// with TTL expiry, a bound on the number of records (evicting the oldest),
// and the same leases and fencing tokens as the distributed store.
//
// It keeps state in this process only. Behind a load balancer with several
// instances, each instance has its own records and a retry that lands on
// another instance runs again: use the Redis store (storage/redis) there.
package memory
