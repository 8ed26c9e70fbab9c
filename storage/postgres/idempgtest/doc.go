// Package idempgtest holds the tests of idempg through a web framework
// (Gin): the response a handler writes while its business rows sit in the
// claim's transaction is held until they commit with the record, and
// replaced by a not-committed problem when they do not. Not published.
package idempgtest
