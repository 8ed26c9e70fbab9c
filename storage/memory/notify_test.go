package memory_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// TestNotifier: a watch is called once when its key's claim is completed,
// released, resolved or deleted, and never after stop.
func TestNotifier(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	claim := func(k string) uint64 {
		res, err := s.Begin(ctx, k, core.Attempt{Nonce: 1, Lease: time.Minute, TTL: time.Minute})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatal(res.Outcome, err)
		}
		return res.Token
	}
	for name, end := range map[string]func(k string, tok uint64) error{
		"complete": func(k string, tok uint64) error {
			return s.Complete(ctx, k, tok, core.StateCompleted, []byte("r"), time.Minute)
		},
		"release": func(k string, tok uint64) error { return s.Release(ctx, k, tok) },
		"delete":  func(k string, _ uint64) error { return s.Delete(ctx, k) },
		"resolve": func(k string, tok uint64) error {
			if err := s.Complete(ctx, k, tok, core.StateTombstone, nil, time.Minute); err != nil {
				return err
			}
			return s.Resolve(ctx, k, nil, 0)
		},
	} {
		k := "k-" + name
		tok := claim(k)
		var calls, stopped atomic.Int32
		stop, err := s.Watch(ctx, k, func() { calls.Add(1) })
		if err != nil {
			t.Fatal(err)
		}
		stop2, _ := s.Watch(ctx, k, func() { stopped.Add(1) })
		stop2()
		_, _ = s.Watch(ctx, "other", func() { t.Error("another key's watch was called") })
		if err := end(k, tok); err != nil {
			t.Fatal(name, err)
		}
		stop() // after the call: harmless
		if calls.Load() != 1 || stopped.Load() != 0 {
			t.Fatalf("%s: watch called %d times, stopped watch %d", name, calls.Load(), stopped.Load())
		}
	}
}
