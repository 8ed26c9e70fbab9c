package idemredis_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// The signature field g on the hash itself: absent for unsigned claims
// (no extra work on the hot path), emptied by an unsigned takeover, and
// never answered for a final record that is not a stranded claim, where
// it is a leftover.
func TestSigField(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	sig := []byte("sig\x00\xff")
	begin := func(k string, fp core.Fingerprint, sig []byte, lease time.Duration) core.BeginResult {
		t.Helper()
		res, err := e.st.Begin(ctx, k, core.Attempt{Fingerprint: fp, Nonce: uint64(time.Now().UnixNano()) | 1, Lease: lease, TTL: recTTL, Sig: sig})
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		return res
	}
	field := func(k string) (string, bool) {
		t.Helper()
		v, err := e.rdb.HMGet(ctx, e.st.RecordKey(k), "g").Result()
		if err != nil {
			t.Fatal(err)
		}
		g, ok := v[0].(string)
		return g, ok
	}

	k := e.key()
	begin(k, fpA, nil, time.Minute)
	if g, ok := field(k); ok {
		t.Fatalf("unsigned claim has g = %q", g)
	}

	k = e.key()
	begin(k, fpA, sig, 20*time.Millisecond)
	if g, _ := field(k); g != string(sig) {
		t.Fatalf("g = %q, want %q", g, sig)
	}
	time.Sleep(50 * time.Millisecond)
	if res := begin(k, fpA, nil, time.Minute); !res.TookOver {
		t.Fatalf("Begin = %+v, want a takeover", res)
	}
	if g, ok := field(k); !ok || g != "" {
		t.Fatalf("after an unsigned takeover g = %q (present %v), want empty", g, ok)
	}
	if rec := e.get(k); rec.Sig != nil {
		t.Fatalf("Sig = %q after an unsigned takeover", rec.Sig)
	}

	// Final records made by Complete keep g but do not answer with it,
	// an uncertain one included: it is not a stranded claim.
	for _, st := range []core.State{core.StateCompleted, core.StateTombstone, core.StateUncertain} {
		k := e.key()
		claim := begin(k, fpA, sig, time.Minute)
		if err := e.st.Complete(ctx, k, claim.Token, st, []byte("signed envelope"), recTTL); err != nil {
			t.Fatal(err)
		}
		if rec := e.get(k); rec.Sig != nil {
			t.Fatalf("%v: Get Sig = %q, want none", st, rec.Sig)
		}
		if res := begin(k, fpA, nil, time.Minute); res.Record.Sig != nil {
			t.Fatalf("%v: Begin %v Sig = %q, want none", st, res.Outcome, res.Record.Sig)
		}
		if res := begin(k, fpB, nil, time.Minute); res.Outcome != core.OutcomeMismatch || res.Record.Sig != nil {
			t.Fatalf("%v: Begin %v Sig = %q, want a Mismatch without", st, res.Outcome, res.Record.Sig)
		}
	}

	// A stranded record answers with it until it is settled.
	k = e.key()
	claim := begin(k, fpA, sig, 20*time.Millisecond)
	if err := e.st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if res := begin(k, fpA, nil, time.Minute); !res.Stranded || !bytes.Equal(res.Record.Sig, sig) {
		t.Fatalf("stranding Begin = %+v", res)
	}
	if err := e.st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("late"), recTTL); err != nil {
		t.Fatal(err)
	}
	if rec := e.get(k); rec.State != core.StateCompleted || rec.Sig != nil {
		t.Fatalf("completed stranded record = %v, Sig %q", rec.State, rec.Sig)
	}
	if res := begin(k, fpA, nil, time.Minute); res.Outcome != core.OutcomeRepeated || res.Record.Sig != nil {
		t.Fatalf("Begin = %v, Sig %q; want Replay without", res.Outcome, res.Record.Sig)
	}
}

// The commitment's signature field h: absent for an unsigned Commit, not
// overwritten by an unsigned resend, emptied by a takeover (a genuine
// uncommitted claim has none: one there was written by someone else), and
// answered only for a committed claim and a stranded record.
func TestCommitSigField(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	field := func(k string) (string, bool) {
		t.Helper()
		v, err := e.rdb.HMGet(ctx, e.st.RecordKey(k), "h").Result()
		if err != nil {
			t.Fatal(err)
		}
		h, ok := v[0].(string)
		return h, ok
	}

	k := e.key()
	tok := e.claim(k, time.Minute)
	if err := e.st.Commit(ctx, k, tok, nil); err != nil {
		t.Fatal(err)
	}
	if h, ok := field(k); ok {
		t.Fatalf("unsigned Commit wrote h = %q", h)
	}

	k = e.key()
	tok = e.claim(k, time.Minute)
	if err := e.st.Commit(ctx, k, tok, []byte("csig")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Commit(ctx, k, tok, nil); err != nil {
		t.Fatal(err)
	}
	if h, _ := field(k); h != "csig" {
		t.Fatalf("h = %q after an unsigned resend, want csig", h)
	}
	if err := e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("done"), recTTL); err != nil {
		t.Fatal(err)
	}
	if rec := e.get(k); rec.CommitSig != nil {
		t.Fatalf("completed record's CommitSig = %q, want nil (a leftover)", rec.CommitSig)
	}

	// A planted h on an uncommitted claim is not answered, and a takeover
	// empties it.
	k = e.key()
	e.claim(k, 50*time.Millisecond)
	if err := e.rdb.HSet(ctx, e.st.RecordKey(k), "h", "planted").Err(); err != nil {
		t.Fatal(err)
	}
	if rec := e.get(k); rec.CommitSig != nil {
		t.Fatalf("uncommitted claim's CommitSig = %q, want nil", rec.CommitSig)
	}
	time.Sleep(100 * time.Millisecond)
	res := e.begin(k, fpA, time.Minute)
	if res.Outcome != core.OutcomeOriginal || !res.TookOver {
		t.Fatalf("Begin = %+v, want a takeover", res)
	}
	if h, _ := field(k); h != "" {
		t.Fatalf("h = %q after a takeover, want empty", h)
	}
}
