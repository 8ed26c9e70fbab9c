// Package idempgtest holds the tests of idempg through a web framework
// (Gin): the response a handler writes while its business rows sit in the
// claim's transaction is held until they commit with the record, and
// replaced by a not-committed problem when they do not. TestAdapter runs
// the whole adapter conformance suite (coretest.TestAdapter) through Gin on
// the real store, its transactional cases on a real table. Not published.
package idempgtest
