package memory_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestConformance(t *testing.T) {
	coretest.TestStore(t, func(t *testing.T) core.Store { return memory.New() })
}

func TestBoundEvictsOldestCompleted(t *testing.T) {
	ctx := context.Background()
	st := memory.New(memory.WithMaxEntries(64))
	var fp core.Fingerprint
	var keys []string
	for i := 0; i < 2000; i++ {
		k := fmt.Sprintf("k%d", i)
		res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fp, Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatalf("Begin %s: %v", k, err)
		}
		if err := st.Complete(ctx, k, res.Token, core.StateCompleted, []byte(k), time.Hour); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if n := st.Len(); n != 64 {
		t.Fatalf("Len = %d, want 64", n)
	}
	if _, err := st.Get(ctx, keys[len(keys)-1]); err != nil {
		t.Fatalf("newest record evicted: %v", err)
	}
	if _, err := st.Get(ctx, keys[0]); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("oldest record kept: %v", err)
	}
}

func TestBoundNeverEvictsLiveClaims(t *testing.T) {
	ctx := context.Background()
	st := memory.New(memory.WithMaxEntries(1))
	var fp core.Fingerprint
	full := 0
	for i := 0; i < 500; i++ {
		_, err := st.Begin(ctx, fmt.Sprintf("k%d", i), core.Attempt{Fingerprint: fp, Lease: time.Minute, TTL: time.Hour})
		if errors.Is(err, memory.ErrFull) {
			if !errors.Is(err, core.ErrStoreUnavailable) {
				t.Fatalf("ErrFull not reported as unavailable: %v", err)
			}
			full++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if full != 499 {
		t.Fatalf("%d claims refused, want 499: one live claim fills a store of one", full)
	}
	if _, err := st.Get(ctx, "k0"); err != nil {
		t.Fatalf("the live claim was evicted: %v", err)
	}
}

func TestClockDrivesExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	st := memory.New(memory.WithClock(func() time.Time { return now }))
	var fp core.Fingerprint
	res, _ := st.Begin(ctx, "k", core.Attempt{Fingerprint: fp, Lease: time.Second, TTL: time.Hour})
	now = now.Add(2 * time.Second)
	again, err := st.Begin(ctx, "k", core.Attempt{Fingerprint: fp, Lease: time.Second, TTL: time.Hour})
	if err != nil || again.Outcome != core.OutcomeOriginal || !again.TookOver || again.Token == res.Token {
		t.Fatalf("after lease: %+v, %v; want a takeover", again, err)
	}
}

func TestDefaultIsShared(t *testing.T) {
	a, b := memory.Default(), memory.Default()
	if a != b {
		t.Fatal("Default returned two stores")
	}
}
