// Package coretest is the conformance kit of idemkit. Every store and
// every framework adapter, ours and yours, runs the same suites, so that
// they are all held to exactly the same contract:
//
//   - TestStore (and TestStoreWith, for a store whose clock or lease
//     granularity needs a longer lease) checks a core.Store: claims,
//     fencing, resends, final states, signatures, stranding, Resolve.
//   - TestAdapter checks a framework adapter against SPEC §3, step by
//     step, through a Harness that mounts an App on the framework; TestHooks
//     checks its typed hooks (WithSkipper, WithUserGetter, ...). It runs
//     on a memory store unless the Harness gives a store of its own
//     (Harness.Store), and its transactional cases on a TxBackend
//     (Harness.Tx): storage/postgres runs it whole on PostgreSQL.
//   - TestRenewalAtScale checks that renewing many claims costs O(1) store
//     round trips per period.
//   - BenchmarkHTTP is the shared adapter benchmark; it asserts every
//     response it measures.
//
// Fault injection for tests of your own: FlakyStore (switchable outage),
// CorruptStore, SlowStore, Twice (every call sent twice, as a client
// library's resend), KilledAfterCommit (an owner that dies after declaring
// effects), BlockedCooldowns, and FaultProxy, a TCP proxy that adds
// latency, stalls or resets between a server and a real Redis. Recorder
// keeps the events and measurements a telemetry driver receives.
//
//	func TestConformance(t *testing.T) {
//		coretest.TestStore(t, func(t *testing.T) core.Store { return memory.New() })
//	}
package coretest
