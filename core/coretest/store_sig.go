package coretest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Claim signatures (Attempt.Sig, Record.Sig): opaque bytes a store keeps
// with a claim and hands back for in-flight and stranded records.

var (
	sigA = []byte("sig-a\x00\xff signed by key 1")
	sigB = []byte("sig-b: another claim's, longer than the first one")
)

// beginSigned is Begin with a fresh nonce, fingerprint f and signature sig.
func beginSigned(t *testing.T, st core.Store, k string, f core.Fingerprint, sig []byte, lease time.Duration) core.BeginResult {
	t.Helper()
	res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: f, Nonce: nonce(), Lease: lease, TTL: ttl, Sig: sig})
	if err != nil {
		t.Fatalf("Begin(%q): %v", k, err)
	}
	return res
}

// wantSig fails unless got is want; a nil want accepts nil or empty.
func wantSig(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: Sig = %q, want %q", what, got, want)
	}
}

// A claim's Sig comes back in Get and in the answers of other Begins
// that see it in flight: of the same fingerprint (OutcomeConflict) or not
// (Mismatch).
func (s suite) sigRoundTrips(t *testing.T, st core.Store) {
	k := key(t)
	sig := bytes.Clone(sigA)
	claim := beginSigned(t, st, k, fp("a"), sig, time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	clear(sig) // the caller's buffer is its own once Begin returns
	wantSig(t, "Get", mustGet(t, st, k).Sig, sigA)
	res := beginSigned(t, st, k, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer", res.Record.Sig, sigA)
	res = beginSigned(t, st, k, fp("b"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeMismatch)
	wantSig(t, "Mismatch answer on a claim", res.Record.Sig, sigA)
	wantSig(t, "Get after other Begins", mustGet(t, st, k).Sig, sigA)
}

// Renew, RenewBatch and Commit leave the Sig as it is.
func (s suite) sigKeptByRenewAndCommit(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := beginSigned(t, st, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := st.Renew(ctx, k, claim.Token, time.Minute); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	wantSig(t, "Get after Renew", mustGet(t, st, k).Sig, sigA)
	if br, ok := st.(core.BatchRenewer); ok {
		rs := []core.Renewal{{Key: k, Token: claim.Token}}
		br.RenewBatch(ctx, time.Minute, rs)
		if rs[0].Err != nil {
			t.Fatalf("RenewBatch: %v", rs[0].Err)
		}
		wantSig(t, "Get after RenewBatch", mustGet(t, st, k).Sig, sigA)
	}
	if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	rec := mustGet(t, st, k)
	if !rec.Committed {
		t.Fatal("not committed")
	}
	wantSig(t, "Get after Commit", rec.Sig, sigA)
	res := beginSigned(t, st, k, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer on a committed claim", res.Record.Sig, sigA)
}

// A takeover replaces the Sig with the new claim's, also with none.
func (s suite) sigReplacedByTakeover(t *testing.T, st core.Store) {
	k, k2 := key(t), key(t)
	for _, k := range []string{k, k2} {
		wantOutcome(t, beginSigned(t, st, k, fp("a"), sigA, s.lease), core.OutcomeOriginal)
	}
	time.Sleep(s.lease * 5 / 2)

	took := beginSigned(t, st, k, fp("a"), sigB, time.Minute)
	wantOutcome(t, took, core.OutcomeOriginal)
	if !took.TookOver {
		t.Fatal("not a takeover")
	}
	wantSig(t, "Get after a takeover", mustGet(t, st, k).Sig, sigB)
	res := beginSigned(t, st, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer after a takeover", res.Record.Sig, sigB)

	took = beginSigned(t, st, k2, fp("a"), nil, time.Minute)
	if took.Outcome != core.OutcomeOriginal || !took.TookOver {
		t.Fatalf("Begin = %v (took over %v), want a takeover", took.Outcome, took.TookOver)
	}
	wantSig(t, "Get after an unsigned takeover", mustGet(t, st, k2).Sig, nil)
	res = beginSigned(t, st, k2, fp("a"), sigA, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer after an unsigned takeover", res.Record.Sig, nil)
}

// Begin sent twice (the first reply lost) carries the same Sig: the claim
// keeps it, and so do a takeover and a stranding sent twice.
func (s suite) sigResentBegin(t *testing.T, st core.Store) {
	ctx := context.Background()
	tw := Twice(st)
	k := key(t)
	claim := beginSigned(t, tw, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	wantSig(t, "Get after a resent Begin", mustGet(t, st, k).Sig, sigA)
	res := beginSigned(t, st, k, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer after a resent Begin", res.Record.Sig, sigA)

	k2, k3 := key(t), key(t)
	wantOutcome(t, beginSigned(t, st, k2, fp("a"), sigA, s.lease), core.OutcomeOriginal)
	c3 := beginSigned(t, st, k3, fp("a"), sigA, s.lease)
	wantOutcome(t, c3, core.OutcomeOriginal)
	if err := st.Commit(ctx, k3, c3.Token, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	time.Sleep(s.lease * 5 / 2)
	// The resend answers OutcomeOriginal, not necessarily TookOver.
	wantOutcome(t, beginSigned(t, tw, k2, fp("a"), sigB, time.Minute), core.OutcomeOriginal)
	wantSig(t, "Get after a takeover sent twice", mustGet(t, st, k2).Sig, sigB)
	res = beginSigned(t, tw, k3, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	if !res.Stranded {
		t.Fatal("stranding Begin sent twice did not report Stranded")
	}
	wantSig(t, "stranding Begin sent twice", res.Record.Sig, sigA)
	wantSig(t, "Get after a stranding sent twice", mustGet(t, st, k3).Sig, sigA)
}

// Without a Sig, records have none: in flight, committed, stranded.
func (s suite) sigNone(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := beginSigned(t, st, k, fp("a"), nil, s.lease)
	wantOutcome(t, claim, core.OutcomeOriginal)
	wantSig(t, "Get of an unsigned claim", mustGet(t, st, k).Sig, nil)
	res := beginSigned(t, st, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantSig(t, "in-flight answer on an unsigned claim", res.Record.Sig, nil)
	if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	wantSig(t, "Get of an unsigned committed claim", mustGet(t, st, k).Sig, nil)
	time.Sleep(s.lease * 5 / 2)
	res = beginSigned(t, st, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	if !res.Stranded {
		t.Fatal("not stranded")
	}
	wantSig(t, "stranding an unsigned claim", res.Record.Sig, nil)
	wantSig(t, "Get of an unsigned stranded record", mustGet(t, st, k).Sig, nil)
}

// Commitment signatures (the sig of Store.Commit, Record.CommitSig):
// opaque bytes a store keeps with a committed claim and hands back for
// committed and stranded records, never for an uncommitted claim.

var (
	csigA = []byte("csig-a\x00\xff the commitment's, not the claim's")
	csigB = []byte("csig-b")
)

// wantCommitSig fails unless got is want; a nil want accepts nil or empty.
func wantCommitSig(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: CommitSig = %q, want %q", what, got, want)
	}
}

// The CommitSig comes back in Get and in Begin's answers on a committed
// claim, beside the claim's Sig; a resent Commit (Twice) keeps it, and a
// Commit without one leaves none.
func (s suite) commitSigRoundTrips(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := beginSigned(t, st, k, fp("a"), sigA, time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	wantCommitSig(t, "Get of an uncommitted claim", mustGet(t, st, k).CommitSig, nil)
	csig := bytes.Clone(csigA)
	if err := Twice(st).Commit(ctx, k, claim.Token, csig); err != nil {
		t.Fatalf("Commit sent twice: %v", err)
	}
	clear(csig) // the caller's buffer is its own once Commit returns
	rec := mustGet(t, st, k)
	if !rec.Committed {
		t.Fatal("not committed")
	}
	wantCommitSig(t, "Get after Commit", rec.CommitSig, csigA)
	wantSig(t, "Get after a signed Commit", rec.Sig, sigA)
	if err := st.Renew(ctx, k, claim.Token, time.Minute); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	wantCommitSig(t, "Get after Renew", mustGet(t, st, k).CommitSig, csigA)
	res := beginSigned(t, st, k, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeConflict)
	wantCommitSig(t, "in-flight answer on a committed claim", res.Record.CommitSig, csigA)
	wantSig(t, "in-flight answer on a committed claim", res.Record.Sig, sigA)
	res = beginSigned(t, st, k, fp("b"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeMismatch)
	wantCommitSig(t, "Mismatch answer on a committed claim", res.Record.CommitSig, csigA)

	// Without a sig, none; also on an unsigned claim.
	for _, sig := range [][]byte{sigA, nil} {
		k := key(t)
		claim := beginSigned(t, st, k, fp("a"), sig, time.Minute)
		wantOutcome(t, claim, core.OutcomeOriginal)
		if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		rec := mustGet(t, st, k)
		wantCommitSig(t, "Get after an unsigned Commit", rec.CommitSig, nil)
		wantSig(t, "Get after an unsigned Commit", rec.Sig, sig)
	}

	// An unsigned claim committed with a sig.
	k = key(t)
	claim = beginSigned(t, st, k, fp("a"), nil, time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := st.Commit(ctx, k, claim.Token, csigB); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	rec = mustGet(t, st, k)
	wantCommitSig(t, "Get of an unsigned claim committed with a sig", rec.CommitSig, csigB)
	wantSig(t, "Get of an unsigned claim committed with a sig", rec.Sig, nil)

	// A completed record answers with neither.
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("done"), ttl); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	rec = mustGet(t, st, k)
	wantCommitSig(t, "Get of a completed record", rec.CommitSig, nil)
	res = beginSigned(t, st, k, fp("a"), nil, time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	wantCommitSig(t, "Replay answer", res.Record.CommitSig, nil)
}

// Begin strands a committed claim keeping its Sig and its CommitSig,
// whoever strands it (the stranding attempt's own Sig goes nowhere), in
// every answer that carries the stranded record (the stranding Begin, its
// resend, a later Begin, a Mismatch, a stranding Mismatch) and in Get: the
// stranded record's Payload is the store's text, so the engine can only
// verify it by these. A claim committed without a CommitSig has none.
func (s suite) sigsKeptWhenStranded(t *testing.T, st core.Store) {
	ctx := context.Background()
	k, k2, k3 := key(t), key(t), key(t)
	for _, k := range []string{k, k2, k3} {
		claim := beginSigned(t, st, k, fp("a"), sigA, s.lease)
		wantOutcome(t, claim, core.OutcomeOriginal)
		var csig []byte
		if k != k3 {
			csig = csigA
		}
		if err := st.Commit(ctx, k, claim.Token, csig); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	}
	time.Sleep(s.lease * 5 / 2)
	want := func(what string, rec core.Record, csig []byte) {
		t.Helper()
		wantSig(t, what, rec.Sig, sigA)
		wantCommitSig(t, what, rec.CommitSig, csig)
	}

	a := core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl, Sig: sigB}
	for i := range 2 { // the stranding Begin, then its resend
		res, err := st.Begin(ctx, k, a)
		if err != nil {
			t.Fatal(err)
		}
		wantOutcome(t, res, core.OutcomeUncertain)
		if !res.Stranded {
			t.Fatalf("send %d: not stranded", i+1)
		}
		want("stranding Begin's Uncertain answer", res.Record, csigA)
	}
	want("Get of the stranded record", mustGet(t, st, k), csigA)
	res := beginSigned(t, st, k, fp("a"), nil, time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	want("later Uncertain answer", res.Record, csigA)
	res = beginSigned(t, st, k, fp("b"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeMismatch)
	want("Mismatch answer on a stranded record", res.Record, csigA)

	res = beginSigned(t, st, k2, fp("b"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeMismatch)
	if !res.Stranded {
		t.Fatal("the mismatching Begin did not strand the claim")
	}
	want("stranding Mismatch answer", res.Record, csigA)
	want("Get of the record a Mismatch stranded", mustGet(t, st, k2), csigA)

	res = beginSigned(t, st, k3, fp("a"), sigB, time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	want("stranding a claim committed without a commit sig", res.Record, nil)
	want("Get of a claim stranded without a commit sig", mustGet(t, st, k3), nil)
}
