package memory_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// A claim's signature is accounted as part of its record, through
// takeovers by larger, smaller and no signatures, stranding and
// completion.
func TestSigAccounting(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithClock(clk.Now))
	const k = "key"
	entry := int64(memory.EntryOverhead + len(k))
	begin := func(sig []byte, lease time.Duration) core.BeginResult {
		t.Helper()
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: lease, TTL: time.Hour, Sig: sig})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatalf("Begin = %+v, %v; want claimed", res, err)
		}
		return res
	}
	wantBytes := func(what string, want int64) {
		t.Helper()
		if got := st.Stats().Bytes; got != want {
			t.Fatalf("%s: %d bytes accounted, want %d", what, got, want)
		}
		memory.CheckInvariants(t, st)
	}
	begin(make([]byte, 100), time.Second)
	wantBytes("signed claim", entry+100)
	clk.Advance(2 * time.Second)
	begin(make([]byte, 300), time.Second)
	wantBytes("takeover by a larger signature", entry+300)
	clk.Advance(2 * time.Second)
	begin(make([]byte, 10), time.Second)
	wantBytes("takeover by a smaller signature", entry+10)
	clk.Advance(2 * time.Second)
	begin([]byte{}, time.Second) // empty: no signature
	wantBytes("takeover without a signature", entry)
	if rec, _ := st.Get(ctx, k); rec.Sig != nil {
		t.Fatalf("Sig = %q, want nil", rec.Sig)
	}
	clk.Advance(2 * time.Second)
	claim := begin([]byte("sig"), time.Second)
	if err := st.Commit(ctx, k, claim.Token, []byte("commit!")); err != nil {
		t.Fatal(err)
	}
	wantBytes("committed with a signature", entry+3+7)
	if err := st.Commit(ctx, k, claim.Token, []byte("commit!")); err != nil {
		t.Fatal(err)
	}
	wantBytes("Commit resent", entry+3+7)
	clk.Advance(2 * time.Second)
	res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour, Sig: make([]byte, 500)})
	if err != nil || !res.Stranded || !bytes.Equal(res.Record.Sig, []byte("sig")) || !bytes.Equal(res.Record.CommitSig, []byte("commit!")) {
		t.Fatalf("stranding Begin = %+v, %v", res, err)
	}
	wantBytes("stranded", entry+3+7)
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, make([]byte, 50), time.Hour); err != nil {
		t.Fatal(err)
	}
	wantBytes("completed by the stranded owner", entry+50)
	if rec, _ := st.Get(ctx, k); rec.Sig != nil || rec.CommitSig != nil {
		t.Fatalf("completed record's Sig = %q, CommitSig = %q, want nil (the payload carries its own)", rec.Sig, rec.CommitSig)
	}
}

// A commitment's signature takes room like a claim's: Commit evicts a
// final record for it when it must, and without room fails, leaving the
// claim uncommitted. One longer than 255 bytes is refused.
func TestCommitSigUnderPressure(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	const k, k2 = "key", "kez"
	entry := int64(memory.EntryOverhead + len(k))
	st := memory.New(memory.WithClock(clk.Now), memory.WithMaxBytes(2*entry+50))
	begin := func(k string) core.BeginResult {
		t.Helper()
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour, Sig: make([]byte, 10)})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatalf("Begin = %+v, %v; want claimed", res, err)
		}
		return res
	}
	c2 := begin(k2)
	if err := st.Complete(ctx, k2, c2.Token, core.StateCompleted, make([]byte, 20), time.Hour); err != nil {
		t.Fatal(err)
	}
	claim := begin(k)
	if err := st.Commit(ctx, k, claim.Token, make([]byte, 256)); err == nil {
		t.Fatal("Commit with a 256-byte signature succeeded")
	}
	if err := st.Commit(ctx, k, claim.Token, make([]byte, 25)); err != nil {
		t.Fatalf("Commit evicting a final record: %v", err)
	}
	if st.Stats().Evicted != 1 || st.Stats().Bytes != entry+10+25 {
		t.Fatalf("after Commit: %+v", st.Stats())
	}
	memory.CheckInvariants(t, st)
	c3 := begin(k2)
	if err := st.Commit(ctx, k2, c3.Token, make([]byte, 40)); !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, memory.ErrFull) {
		t.Fatalf("Commit without room = %v, want ErrStoreUnavailable, ErrFull", err)
	}
	if rec, err := st.Get(ctx, k2); err != nil || rec.Committed || rec.CommitSig != nil || len(rec.Sig) != 10 {
		t.Fatalf("claim after a refused Commit = %+v, %v", rec, err)
	}
	memory.CheckInvariants(t, st)
}

// A takeover by a larger signature makes room for it as a claim does:
// evicting a final record when it must, refusing a signature larger than
// the bound, and then leaving the old claim as it was.
func TestSigTakeoverUnderPressure(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	const k = "key"
	entry := int64(memory.EntryOverhead + len(k))
	st := memory.New(memory.WithClock(clk.Now), memory.WithMaxBytes(2*entry+50))
	old, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour, Sig: []byte("a")})
	if err != nil || old.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin = %+v, %v", old, err)
	}
	complete(t, st, "fin", nil, time.Hour) // an entry of 3 bytes of key
	clk.Advance(2 * time.Second)
	res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour, Sig: make([]byte, 100)})
	// Making room sweeps the abandoned claim away, or takes it over.
	if err != nil || res.Outcome != core.OutcomeOriginal || res.Evicted != 1 {
		t.Fatalf("takeover = %+v, %v; want a claim that evicts the final record", res, err)
	}
	if s := st.Stats(); s.Evicted != 1 || s.Bytes != entry+100 {
		t.Fatalf("stats = %+v", s)
	}
	memory.CheckInvariants(t, st)

	// A signature that alone exceeds the bound is refused, and the claim
	// is left as it was.
	clk.Advance(2 * time.Second)
	_, err = st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour, Sig: make([]byte, 1000)})
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, memory.ErrTooLarge) {
		t.Fatalf("takeover = %v; want ErrTooLarge", err)
	}
	rec, err := st.Get(ctx, k)
	if err != nil || rec.Token != res.Token || len(rec.Sig) != 100 {
		t.Fatalf("record after the refused takeover = %+v, %v", rec, err)
	}
	memory.CheckInvariants(t, st)
	// A takeover by a smaller signature still fits.
	if res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour, Sig: []byte("b")}); err != nil || !res.TookOver {
		t.Fatalf("takeover = %+v, %v", res, err)
	}
	memory.CheckInvariants(t, st)
}
