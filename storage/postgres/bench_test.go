package idempg_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// BenchmarkStore measures the store calls of a first request (Begin and
// Complete, two round trips) and of a replay (Begin, one), in parallel on
// the test server (fsync off: this measures the statements, not a disk).
// Every iteration checks its outcome, so a broken path cannot look fast.
func BenchmarkStore(b *testing.B) {
	pool := newPool(b)
	st := newStore(b, pool)
	payload := make([]byte, 512)
	var seq atomic.Int64
	prefix := fmt.Sprintf("bench:%d:", time.Now().UnixNano())
	b.Run("First", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				k := fmt.Sprint(prefix, seq.Add(1))
				res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("a"), Nonce: uint64(seq.Add(1)), Lease: time.Minute, TTL: time.Minute})
				if err != nil || res.Outcome != core.OutcomeOriginal {
					b.Fatalf("Begin = %v, %v", res.Outcome, err)
				}
				if err := st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	k := prefix + "replay"
	c, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: fpOf("a"), Nonce: 1, Lease: time.Minute, TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Complete(context.Background(), k, c.Token, core.StateCompleted, payload, time.Hour); err != nil {
		b.Fatal(err)
	}
	b.Run("Replay", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("a"), Nonce: uint64(seq.Add(1)), Lease: time.Minute, TTL: time.Minute})
				if err != nil || res.Outcome != core.OutcomeRepeated || len(res.Record.Payload) != len(payload) {
					b.Fatalf("Begin = %v, %v", res.Outcome, err)
				}
			}
		})
	})
}
