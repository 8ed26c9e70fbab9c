package coretest

import (
	"context"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// notifier: a store that is a core.Notifier calls a watch of a key whose
// claim a Begin found in flight when the claim ends, by Complete (any
// final state) or Release, and calls no other key's watch nor a stopped
// one.
func (s suite) notifier(t *testing.T, st core.Store) {
	n, ok := st.(core.Notifier)
	if !ok {
		t.Skip("store is no core.Notifier")
	}
	ctx := context.Background()
	ends := map[string]func(k string, tok uint64) error{
		"completed": func(k string, tok uint64) error {
			return st.Complete(ctx, k, tok, core.StateCompleted, []byte("r"), ttl)
		},
		"tombstone": func(k string, tok uint64) error {
			return st.Complete(ctx, k, tok, core.StateTombstone, []byte("why"), ttl)
		},
		"uncertain": func(k string, tok uint64) error {
			return st.Complete(ctx, k, tok, core.StateUncertain, []byte("why"), ttl)
		},
		"released": func(k string, tok uint64) error { return st.Release(ctx, k, tok) },
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			k, other := key(t), key(t)
			tok := mustBegin(t, st, k, fp("a"), time.Minute).Token
			otok := mustBegin(t, st, other, fp("a"), time.Minute).Token
			// The waiters' Begins, which the Engine sends before it watches.
			wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeConflict)
			wantOutcome(t, mustBegin(t, st, other, fp("a"), time.Minute), core.OutcomeConflict)
			woken := make(chan struct{}, 4)
			stop, err := n.Watch(ctx, k, func() { woken <- struct{}{} })
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			stopped, err := n.Watch(ctx, k, func() { t.Error("a stopped watch was called") })
			if err != nil {
				t.Fatal(err)
			}
			stopped()
			stopOther, err := n.Watch(ctx, other, func() { t.Error("another key's watch was called") })
			if err != nil {
				t.Fatal(err)
			}
			if err := end(k, tok); err != nil {
				t.Fatal(err)
			}
			select {
			case <-woken:
			case <-time.After(5 * time.Second):
				t.Fatal("the watch was not called")
			}
			time.Sleep(50 * time.Millisecond) // a second call, or another key's, would show by now
			if len(woken) != 0 {
				t.Fatal("the watch was called twice")
			}
			stopOther()
			_ = st.Release(ctx, other, otok)
		})
	}
}
