package idempg

import "context"

// SetHoldResponse replaces core.HoldResponse, which fails outside an
// Engine's claim, for tests of the store alone; it returns the restorer.
func SetHoldResponse(f func(context.Context) error) (restore func()) {
	old := holdResponse
	holdResponse = f
	return func() { holdResponse = old }
}
