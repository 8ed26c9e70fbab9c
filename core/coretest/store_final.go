package coretest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// wantRecord fails unless rec has state, fingerprint f and token.
func wantRecord(t *testing.T, rec core.Record, state core.State, f core.Fingerprint, token uint64) {
	t.Helper()
	if rec.State != state || rec.Fingerprint != f || rec.Token != token {
		t.Fatalf("record = %v, fingerprint %q, token %d; want %v, %q, token %d",
			rec.State, rec.Fingerprint[:1], rec.Token, state, f[:1], token)
	}
}

// mustGet returns the record for k, failing when there is none.
func mustGet(t *testing.T, st core.Store, k string) core.Record {
	t.Helper()
	rec, err := st.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return rec
}

func wantAbsent(t *testing.T, st core.Store, k string) {
	t.Helper()
	if rec, err := st.Get(context.Background(), k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get = %v, %v; want ErrNotFound", rec.State, err)
	}
}

// finished claims a fresh key and ends it with state and payload; it
// returns the key and the claim's token.
func finished(t *testing.T, st core.Store, state core.State, payload string) (string, uint64) {
	t.Helper()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := st.Complete(context.Background(), k, claim.Token, state, []byte(payload), ttl); err != nil {
		t.Fatalf("Complete(%v): %v", state, err)
	}
	return k, claim.Token
}

// A tombstone answers Unavailable for its fingerprint, Mismatch for
// another, and no later call of its token changes it.
func (s suite) tombstone(t *testing.T, st core.Store) {
	ctx := context.Background()
	k, token := finished(t, st, core.StateTombstone, "response too large")

	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeUnavailable)
	wantRecord(t, res.Record, core.StateTombstone, fp("a"), token)
	if string(res.Record.Payload) != "response too large" {
		t.Fatalf("tombstone payload = %q, want its reason", res.Record.Payload)
	}
	if res.Token != 0 || res.Stranded || res.TookOver {
		t.Fatalf("Unavailable answer = %+v: it claims nothing", res)
	}
	if until := time.Until(res.Record.ExpiresAt); until < ttl-5*time.Second || until > ttl+5*time.Second {
		t.Fatalf("tombstone expires in %v, want about %v", until, ttl)
	}
	other := mustBegin(t, st, k, fp("b"), time.Minute)
	wantOutcome(t, other, core.OutcomeMismatch)
	wantRecord(t, other.Record, core.StateTombstone, fp("a"), token)

	// The same token's later calls: a resend is harmless, nothing else
	// may turn the tombstone into a claim or a response.
	if err := st.Complete(ctx, k, token, core.StateTombstone, []byte("response too large"), ttl); err != nil {
		t.Fatalf("resent Complete(tombstone) = %v, want nil", err)
	}
	if err := st.Complete(ctx, k, token, core.StateCompleted, []byte("late"), ttl); err != nil {
		t.Fatalf("Complete(completed) over the token's own tombstone = %v, want nil (left as is)", err)
	}
	for name, err := range map[string]error{
		"Renew":   st.Renew(ctx, k, token, time.Minute),
		"Commit":  st.Commit(ctx, k, token, nil),
		"Release": st.Release(ctx, k, token),
	} {
		if !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("%s of a tombstone = %v, want ErrLeaseLost", name, err)
		}
	}
	rec := mustGet(t, st, k)
	wantRecord(t, rec, core.StateTombstone, fp("a"), token)
	if rec.Committed || string(rec.Payload) != "response too large" {
		t.Fatalf("tombstone changed: committed %v, payload %q", rec.Committed, rec.Payload)
	}
}

// An uncertain record written by Complete answers Uncertain, is not
// stranded (its owner reported it), and stays as it is.
func (s suite) uncertainComplete(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := st.Complete(ctx, k, claim.Token, core.StateUncertain, []byte("handler failed after effects"), ttl); err != nil {
		t.Fatalf("Complete(uncertain): %v", err)
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	wantRecord(t, res.Record, core.StateUncertain, fp("a"), claim.Token)
	if res.Stranded || res.Token != 0 {
		t.Fatalf("Uncertain answer = %+v: an owner's own uncertain record is not stranded", res)
	}
	if string(res.Record.Payload) != "handler failed after effects" {
		t.Fatalf("uncertain payload = %q, want its reason", res.Record.Payload)
	}
	other := mustBegin(t, st, k, fp("b"), time.Minute)
	wantOutcome(t, other, core.OutcomeMismatch)
	wantRecord(t, other.Record, core.StateUncertain, fp("a"), claim.Token)

	if err := st.Complete(ctx, k, claim.Token, core.StateUncertain, []byte("handler failed after effects"), ttl); err != nil {
		t.Fatalf("resent Complete(uncertain) = %v, want nil", err)
	}
	// Only an uncertain record that Begin made (stranded) gives way to its
	// owner's later answer; this one is the owner's own final word.
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("late"), ttl); err != nil {
		t.Fatalf("Complete(completed) over the token's own uncertain record = %v, want nil", err)
	}
	if err := st.Complete(ctx, k, claim.Token+1, core.StateCompleted, []byte("stale"), ttl); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Complete with another token = %v, want ErrLeaseLost", err)
	}
	rec := mustGet(t, st, k)
	wantRecord(t, rec, core.StateUncertain, fp("a"), claim.Token)
	if rec.Committed || string(rec.Payload) != "handler failed after effects" {
		t.Fatalf("uncertain record changed: committed %v, payload %q", rec.Committed, rec.Payload)
	}
}

// Commit marks the claim, is idempotent, and is fenced like Complete.
func (s suite) commit(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	if rec := mustGet(t, st, k); rec.Committed {
		t.Fatal("a fresh claim is committed")
	}
	if err := st.Commit(ctx, k, claim.Token+1, nil); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Commit with another token = %v, want ErrLeaseLost", err)
	}
	if rec := mustGet(t, st, k); rec.Committed {
		t.Fatal("a fenced Commit committed the claim")
	}
	for i := 0; i < 2; i++ {
		if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
			t.Fatalf("Commit #%d = %v, want nil", i+1, err)
		}
	}
	rec := mustGet(t, st, k)
	wantRecord(t, rec, core.StateInFlight, fp("a"), claim.Token)
	if !rec.Committed || !rec.LeaseUntil.After(time.Now()) {
		t.Fatalf("committed claim = %+v, want committed with a live lease", rec)
	}
	dup := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, dup, core.OutcomeConflict)
	if !dup.Record.Committed || dup.Stranded {
		t.Fatalf("duplicate of a live committed claim = %+v, want in flight, committed, not stranded", dup)
	}
	if err := st.Renew(ctx, k, claim.Token, time.Minute); err != nil {
		t.Fatalf("Renew of a committed claim: %v", err)
	}
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("done"), ttl); err != nil {
		t.Fatalf("Complete of a committed claim: %v", err)
	}
	if err := st.Commit(ctx, k, claim.Token, nil); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Commit of a completed record = %v, want ErrLeaseLost", err)
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	if string(res.Record.Payload) != "done" || res.Record.Committed {
		t.Fatalf("replay = %q, committed %v", res.Record.Payload, res.Record.Committed)
	}

	absent := key(t)
	if err := st.Commit(ctx, absent, claim.Token, nil); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Commit of an absent key = %v, want ErrLeaseLost", err)
	}
	wantAbsent(t, st, absent)
}

// Release frees a committed claim too: its owner knows its effects did
// not happen (or were undone).
func (s suite) releaseCommitted(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Release(ctx, k, claim.Token+1); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Release with another token = %v, want ErrLeaseLost", err)
	}
	if err := st.Release(ctx, k, claim.Token); err != nil {
		t.Fatalf("Release of a committed claim: %v", err)
	}
	wantAbsent(t, st, k)
	again := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, again, core.OutcomeOriginal)
	if again.TookOver || again.Token == claim.Token {
		t.Fatalf("claim after release = %+v, want a fresh claim", again)
	}
	if mustGet(t, st, k).Committed {
		t.Fatal("the new claim inherited the released claim's commit")
	}
}

// finalTwice: Commit and Complete of every final state, each sent twice
// with the first reply dropped, still succeed and leave the right record.
func (s suite) finalTwice(t *testing.T, st core.Store) {
	ctx := context.Background()
	tw := Twice(st)
	for _, c := range []struct {
		state   core.State
		outcome core.Outcome
	}{
		{core.StateTombstone, core.OutcomeUnavailable},
		{core.StateUncertain, core.OutcomeUncertain},
		{core.StateCompleted, core.OutcomeRepeated},
	} {
		k := key(t)
		claim := mustBegin(t, tw, k, fp("a"), time.Minute)
		wantOutcome(t, claim, core.OutcomeOriginal)
		if err := tw.Commit(ctx, k, claim.Token, nil); err != nil {
			t.Fatalf("Commit sent twice: %v", err)
		}
		if rec := mustGet(t, st, k); !rec.Committed {
			t.Fatal("Commit sent twice did not commit")
		}
		if err := tw.Complete(ctx, k, claim.Token, c.state, []byte("once"), ttl); err != nil {
			t.Fatalf("Complete(%v) sent twice: %v", c.state, err)
		}
		res := mustBegin(t, tw, k, fp("a"), time.Minute)
		wantOutcome(t, res, c.outcome)
		wantRecord(t, res.Record, c.state, fp("a"), claim.Token)
		if string(res.Record.Payload) != "once" {
			t.Fatalf("payload = %q", res.Record.Payload)
		}
	}
}
