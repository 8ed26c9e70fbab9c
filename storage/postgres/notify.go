package idempg

import (
	"context"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/idemkit/idempotency/core"
)

var _ core.Notifier = (*Store)(nil)

// notifier is a Store's one LISTEN connection to its channel (the table
// prefix + "ended"), opened by the first Watch and shared by every watch
// of the store, however many keys and requests wait: a watch is a map
// entry, not a statement.
//
// Complete and Release NOTIFY the record's key when a Begin found the
// claim in flight (column waited), so that keys nobody waits on cost
// nothing. NOTIFY is transactional: a completion inside a handler's
// transaction (ClaimTx) wakes the waiters only once it has committed, and
// a rolled-back one wakes nobody.
type notifier struct {
	mu      sync.Mutex
	closed  bool
	conn    *pgx.Conn // nil until the first Watch
	cancel  context.CancelFunc
	done    chan struct{}
	watches map[string][]*watch // by the key's hex, the NOTIFY payload
}

type watch struct{ fn func() }

// Watch implements core.Notifier. The first Watch of a Store opens a
// connection of its own (outside the pool, with the pool's settings),
// LISTENs, and waits within ctx for that to succeed; every later Watch is
// a map entry. Should the connection drop, the listener reconnects and
// wakes every watch (a notification may have been lost meanwhile: the
// Engine then just Begins again).
func (s *Store) Watch(ctx context.Context, key string, fn func()) (stop func(), err error) {
	n := &s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, fmt.Errorf("%w: postgres: store closed", core.ErrStoreUnavailable)
	}
	if n.conn == nil {
		conn, err := s.listen(ctx)
		if err != nil {
			return nil, err
		}
		lctx, cancel := context.WithCancel(context.Background())
		n.conn, n.cancel, n.done = conn, cancel, make(chan struct{})
		n.watches = make(map[string][]*watch)
		go s.dispatch(lctx, conn)
	}
	w, hk := &watch{fn: fn}, hex.EncodeToString([]byte(key)) // as notified
	n.watches[hk] = append(n.watches[hk], w)
	return func() { n.remove(hk, w) }, nil
}

// listen opens the LISTEN connection.
func (s *Store) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, unavailable(err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		_ = conn.Close(context.Background())
		return nil, unavailable(err)
	}
	return conn, nil
}

func (n *notifier) remove(key string, w *watch) {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.watches[key]
	for i, x := range list {
		if x == w {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			if len(list) == 0 {
				delete(n.watches, key)
			} else {
				n.watches[key] = list
			}
			return
		}
	}
}

// wake calls and forgets the watches of key, or of every key when all.
func (n *notifier) wake(key string, all bool) {
	n.mu.Lock()
	var fns []*watch
	if all {
		for k, list := range n.watches {
			fns = append(fns, list...)
			delete(n.watches, k)
		}
	} else {
		fns = n.watches[key]
		delete(n.watches, key)
	}
	n.mu.Unlock()
	for _, w := range fns { // without the lock: fn may call stop
		w.fn()
	}
}

// dispatch wakes the watches of every key notified until ctx ends,
// reconnecting (and waking everyone) when the connection fails.
func (s *Store) dispatch(ctx context.Context, conn *pgx.Conn) {
	n := &s.notify
	defer close(n.done)
	for {
		m, err := conn.WaitForNotification(ctx)
		if err == nil {
			n.wake(m.Payload, false)
			continue
		}
		_ = conn.Close(context.Background())
		for {
			if ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			c, err := s.listen(cctx)
			cancel()
			if err == nil {
				conn = c
				n.mu.Lock()
				n.conn = c
				n.mu.Unlock()
				break
			}
		}
		n.wake("", true)
	}
}

// close ends the LISTEN connection, if any; later Watch calls fail.
func (n *notifier) close() {
	n.mu.Lock()
	n.closed = true
	cancel, done := n.cancel, n.done
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
