// Package idemxxh3 offers XXH3-128 as the fingerprint hash of idemkit:
//
//	idemgin.New(core.WithHashAlgorithm(idemxxh3.New))
//
// It lives in its own module so that the root module keeps depending on
// the standard library and sonic only; the hashing itself is
// github.com/zeebo/xxh3, a maintained, assembly-accelerated implementation.
//
// # When to use it
//
// Only the hash changes: the canonical form of the request (sorted JSON
// keys, ignored fields, sorted forms and queries) is the same as with the
// default SHA-256, and the 16-byte digest fills the first half of
// core.Fingerprint (the rest is zero). XXH3 removes the hash's share of
// fingerprinting, about a fifth of it on JSON bodies (BENCHMARKS.md);
// canonicalisation remains. It is not collision resistant: a client who
// can choose payloads can craft two that share a fingerprint, so that a
// different request with a reused key is replayed instead of refused
// (422). Use it when fingerprinting shows in profiles and the clients are
// trusted not to search for collisions; keep SHA-256 otherwise.
//
// # Changing the algorithm
//
// Every fingerprint changes with the algorithm, and a stored record keeps
// the fingerprint it was made with. Every instance that shares a store
// must use the same algorithm; after a switch, a retry of a key stored
// before it is refused as another payload (422) until the record's TTL
// ends. That is safe (nothing runs twice) but unhelpful to those
// clients: switch all instances together, at a quiet time.
package idemxxh3
