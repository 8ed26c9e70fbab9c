package memory

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/idemkit/idempotency/core"
)

var _ core.Notifier = (*Store)(nil)

// watchers are the Notifier watches of a Store. Writes check count first,
// so that a store nobody waits on pays one atomic load per claim ended.
type watchers struct {
	count atomic.Int64
	mu    sync.Mutex
	m     map[string][]*watch
}

type watch struct{ fn func() }

// Watch implements core.Notifier: fn is called once when a claim on key
// ends by Complete, Release, Resolve or Delete after Watch returned. An
// expired claim calls nothing (the Engine Begins at the lease's end).
func (s *Store) Watch(_ context.Context, key string, fn func()) (stop func(), err error) {
	w := &watch{fn: fn}
	ws := &s.watch
	ws.mu.Lock()
	if ws.m == nil {
		ws.m = make(map[string][]*watch)
	}
	ws.m[key] = append(ws.m[key], w)
	ws.count.Add(1)
	ws.mu.Unlock()
	return func() {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		list := ws.m[key]
		for i, x := range list {
			if x == w {
				list[i] = list[len(list)-1]
				list = list[:len(list)-1]
				ws.count.Add(-1)
				if len(list) == 0 {
					delete(ws.m, key)
				} else {
					ws.m[key] = list
				}
				return
			}
		}
	}, nil
}

// ended calls the watches of key; the caller holds no lock.
func (s *Store) ended(key string) {
	ws := &s.watch
	if ws.count.Load() == 0 {
		return
	}
	ws.mu.Lock()
	list := ws.m[key]
	delete(ws.m, key)
	ws.count.Add(-int64(len(list)))
	ws.mu.Unlock()
	for _, w := range list {
		w.fn()
	}
}
