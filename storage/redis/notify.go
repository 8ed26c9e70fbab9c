package idemredis

import (
	"context"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
)

var _ core.Notifier = (*Store)(nil)

// notifier is a Store's one subscription to its channel (endedChannel),
// made on the first Watch and shared by every watch of the store, however
// many keys and requests wait: a watch is a map entry, not a command.
//
// Complete and Release publish the record's key on the channel when a
// Begin found the claim in flight (it marks the record, field w), so that
// keys nobody waits on cost no PUBLISH. PUBLISH reaches every node of a
// cluster, so one subscription on any node hears every key.
type notifier struct {
	mu      sync.Mutex
	ps      *redis.PubSub
	closed  bool
	watches map[string][]*watch // by record key
}

type watch struct{ fn func() }

// endedChannel is the store's channel of ended claims.
func (s *Store) endedChannel() string { return s.prefix + "ended" }

// Watch implements core.Notifier. The first Watch of a Store subscribes
// (one connection, kept until Close) and waits, within ctx, for Redis to
// confirm the subscription; every later Watch is a map entry. go-redis
// resubscribes after a dropped connection; what was published meanwhile
// is lost, which the Engine survives (it Begins at the end of its lock
// wait and of the claim's lease).
func (s *Store) Watch(ctx context.Context, key string, fn func()) (stop func(), err error) {
	n := &s.notify
	rk := s.RecordKey(key)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("%w: redis: store closed", core.ErrStoreUnavailable)
	}
	if n.ps == nil {
		ps := s.rdb.Subscribe(ctx, s.endedChannel())
		if _, err := ps.Receive(ctx); err != nil { // the confirmation
			_ = ps.Close()
			return nil, unavailable(err)
		}
		n.ps = ps
		n.watches = make(map[string][]*watch)
		go n.dispatch(ps.Channel())
	}
	w := &watch{fn: fn}
	n.watches[rk] = append(n.watches[rk], w)
	return func() { n.remove(rk, w) }, nil
}

func (n *notifier) remove(rk string, w *watch) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.watches[rk]
	for i, x := range list {
		if x == w {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			if len(list) == 0 {
				delete(n.watches, rk)
			} else {
				n.watches[rk] = list
			}
			return
		}
	}
}

// dispatch calls the watches of each key published, until the
// subscription is closed.
func (n *notifier) dispatch(msgs <-chan *redis.Message) {
	for m := range msgs {
		n.mu.Lock()
		list := n.watches[m.Payload]
		delete(n.watches, m.Payload)
		n.mu.Unlock()
		for _, w := range list {
			w.fn()
		}
	}
}

// Close ends the store's subscription (see Watch), if any; later Watch
// calls fail, and the Engine polls instead. It does not close the
// clients, which belong to the caller.
func (s *Store) Close() error {
	n := &s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.ps == nil {
		return nil
	}
	err := n.ps.Close()
	n.ps = nil
	return err
}
