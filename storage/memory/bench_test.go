package memory_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// benchKeys are scoped keys shaped like the Engine's, made once so that
// the benchmarks measure the store, not key formatting.
var benchKeys = func() []string {
	ks := make([]string, 1<<20)
	for i := range ks {
		ks[i] = "31:user_route:u-" + strconv.Itoa(i%977) + "|POST /payments:" + strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 16)
	}
	return ks
}()

// fillCompleted fills st with n completed records of 200-byte payloads.
func fillCompleted(b *testing.B, st *memory.Store, n int) {
	ctx := context.Background()
	payload := make([]byte, 200)
	for i := 0; i < n; i++ {
		k := "fill:" + strconv.Itoa(i)
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: 1, Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBeginAtBound measures a first request on a store that is full
// of completed records: Begin claims a new key (making room for it) and
// Complete stores a 200-byte response. The store stays at its bound.
func BenchmarkBeginAtBound(b *testing.B) {
	ctx := context.Background()
	payload := make([]byte, 200)
	b.Run("serial", func(b *testing.B) {
		st := memory.New()
		fillCompleted(b, st, memory.DefaultMaxEntries)
		i := 0
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			k := benchKeys[i&(len(benchKeys)-1)]
			i++
			res, err := st.Begin(ctx, k, core.Attempt{Nonce: uint64(i), Lease: time.Minute, TTL: time.Hour})
			if err != nil || res.Outcome != core.OutcomeOriginal {
				b.Fatalf("Begin: %+v, %v", res, err)
			}
			if err := st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		if n := st.Len(); n > memory.DefaultMaxEntries {
			b.Fatalf("Len = %d, over the bound", n)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		st := memory.New()
		fillCompleted(b, st, memory.DefaultMaxEntries)
		var next atomic.Uint64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := next.Add(1)
				k := benchKeys[i&uint64(len(benchKeys)-1)]
				res, err := st.Begin(ctx, k, core.Attempt{Nonce: i, Lease: time.Minute, TTL: time.Hour})
				if err != nil {
					b.Error(err)
					return
				}
				if res.Outcome != core.OutcomeOriginal {
					continue // a key reused by another goroutine at the wrap
				}
				if err := st.Complete(ctx, k, res.Token, core.StateCompleted, payload, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
