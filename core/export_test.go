package core

// PendingCompletions exposes the background completion counters to tests.
func PendingCompletions(e *Engine) (n, bytes int64) {
	return e.bg.pending.Load(), e.bg.pendingBytes.Load()
}
