// Package coretest is the conformance kit of idemkit: one test suite that
// every core.Store runs (TestStore), so that the in-memory and Redis stores
// are held to exactly the same contract.
//
//	func TestConformance(t *testing.T) {
//		coretest.TestStore(t, func(t *testing.T) core.Store { return memory.New() })
//	}
package coretest
