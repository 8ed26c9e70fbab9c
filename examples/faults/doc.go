// Package faults is the fault and abuse suite of the example servers
// (issue 12): it runs the real server binaries (examples/gin, echo,
// fiber, built by examples/internal/servertest) against a real
// redis-server (storage/redis/redistest) and breaks things while
// duplicates are in flight: a TCP proxy that slows, stalls and resets the
// servers' Redis connections, Redis killed and restarted, a server
// SIGKILLed mid-handler, records forged or tampered with in Redis, and a
// flood of unique keys against a small in-memory store.
//
// Every scenario checks every response's status and, through GET /stats,
// how often the handler ran: a key never runs twice while its record
// lives, and no response replays bytes the handler did not produce. It
// has no non-test code.
package faults
