package coretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// abandonCommitted claims k with a short lease and TTL recordTTL, commits
// the claim and lets its lease expire, as an owner that died after
// declaring effects does. It returns the claim and its record as it was
// before the lease expired.
func (s suite) abandonCommitted(t *testing.T, st core.Store, k string, recordTTL time.Duration) (core.BeginResult, core.Record) {
	t.Helper()
	ctx := context.Background()
	claim, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: s.lease, TTL: recordTTL})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := st.Commit(ctx, k, claim.Token, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	rec := mustGet(t, st, k)
	time.Sleep(s.lease * 5 / 2)
	return claim, rec
}

// The Begin that strands a claim may lose its reply; resent with its
// nonce it must report Stranded again, or OPERATION_UNCERTAIN is never
// fired. Another attempt never does.
func (s suite) strandedResentBegin(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	s.abandonCommitted(t, st, k, ttl)
	a := core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl}
	for i := range 2 {
		res, err := st.Begin(ctx, k, a)
		if err != nil {
			t.Fatal(err)
		}
		wantOutcome(t, res, core.OutcomeUncertain)
		if !res.Stranded {
			t.Fatalf("stranding Begin (send %d) did not report Stranded", i+1)
		}
	}
	a.Nonce = nonce()
	res, err := st.Begin(ctx, k, a)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, res, core.OutcomeUncertain)
	if res.Stranded {
		t.Fatal("another attempt reported Stranded")
	}
}

// A committed claim whose lease expired is not taken over: the first
// Begin turns it into an uncertain record and alone reports it stranded.
func (s suite) strandedNotTakenOver(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim, before := s.abandonCommitted(t, st, k, ttl)

	first := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, first, core.OutcomeUncertain)
	if !first.Stranded || first.TookOver || first.Token != 0 {
		t.Fatalf("first Begin = %+v, want Uncertain, stranded, no claim", first)
	}
	wantRecord(t, first.Record, core.StateUncertain, fp("a"), claim.Token)
	if len(first.Record.Payload) == 0 {
		t.Fatal("stranded record carries no reason")
	}
	if d := first.Record.ExpiresAt.Sub(before.ExpiresAt); d < -time.Second || d > time.Second {
		t.Fatalf("stranding moved the expiry by %v; it keeps the claim's", d)
	}

	second := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, second, core.OutcomeUncertain)
	if second.Stranded {
		t.Fatal("a second Begin reported the stranded claim again")
	}
	wantRecord(t, second.Record, core.StateUncertain, fp("a"), claim.Token)
	other := mustBegin(t, st, k, fp("b"), time.Minute)
	wantOutcome(t, other, core.OutcomeMismatch)
	if other.Stranded {
		t.Fatal("a Begin with another fingerprint reported the stranded claim again")
	}

	// The dead owner's token holds no claim any more.
	if err := st.Renew(ctx, k, claim.Token, time.Minute); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Renew of a stranded record = %v, want ErrLeaseLost", err)
	}
	if err := st.Commit(ctx, k, claim.Token, nil); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Commit of a stranded record = %v, want ErrLeaseLost", err)
	}
	if err := st.Release(ctx, k, claim.Token); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Release of a stranded record = %v, want ErrLeaseLost", err)
	}
	rec := mustGet(t, st, k)
	wantRecord(t, rec, core.StateUncertain, fp("a"), claim.Token)
	if rec.Committed {
		t.Fatal("an uncertain record reports Committed")
	}
}

// A Begin with another fingerprint strands the claim too, and answers
// Mismatch.
func (s suite) strandedByMismatch(t *testing.T, st core.Store) {
	k := key(t)
	claim, _ := s.abandonCommitted(t, st, k, ttl)
	res := mustBegin(t, st, k, fp("b"), time.Minute)
	wantOutcome(t, res, core.OutcomeMismatch)
	if !res.Stranded {
		t.Fatal("the Begin that stranded the claim did not report it")
	}
	wantRecord(t, res.Record, core.StateUncertain, fp("a"), claim.Token)
	again := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, again, core.OutcomeUncertain)
	if again.Stranded {
		t.Fatal("the claim was reported stranded twice")
	}
}

// A stranded record keeps the claim's expiry: at its TTL the key is free.
func (s suite) strandedExpires(t *testing.T, st core.Store) {
	k := key(t)
	s.abandonCommitted(t, st, k, s.lease*4)
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	if !res.Stranded {
		t.Fatal("not stranded")
	}
	time.Sleep(s.lease * 5 / 2)
	wantAbsent(t, st, k)
	wantOutcome(t, mustBegin(t, st, k, fp("b"), time.Minute), core.OutcomeOriginal)
}

// An uncommitted claim whose lease expired is still taken over, and the
// new owner may commit it.
func (s suite) uncommittedTakenOver(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	old := mustBegin(t, st, k, fp("a"), s.lease)
	time.Sleep(s.lease * 5 / 2)
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeOriginal)
	if !res.TookOver || res.Stranded || res.Token == old.Token {
		t.Fatalf("Begin = %+v, want a takeover with a new token, not stranded", res)
	}
	if err := st.Commit(ctx, k, old.Token, nil); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Commit by the old owner = %v, want ErrLeaseLost", err)
	}
	if rec := mustGet(t, st, k); rec.Committed || rec.Token != res.Token {
		t.Fatalf("record = %+v, want the new owner's uncommitted claim", rec)
	}
	if err := st.Commit(ctx, k, res.Token, nil); err != nil {
		t.Fatalf("Commit by the new owner: %v", err)
	}
}

// concurrentStranded: many goroutines find one stranded claim; exactly
// one reports it, none claims the key.
func (s suite) concurrentStranded(t *testing.T, st core.Store) {
	const n = 50
	k := key(t)
	claim, _ := s.abandonCommitted(t, st, k, ttl)
	var stranded atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl})
			switch {
			case err != nil:
				errs <- err
			case res.Outcome != core.OutcomeUncertain:
				errs <- fmt.Errorf("outcome %v, want uncertain", res.Outcome)
			case res.Record.Token != claim.Token:
				errs <- fmt.Errorf("record token %d, want the stranded claim's %d", res.Record.Token, claim.Token)
			case res.Stranded:
				stranded.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := stranded.Load(); got != 1 {
		t.Fatalf("%d Begins reported the stranded claim, want exactly 1", got)
	}
	wantRecord(t, mustGet(t, st, k), core.StateUncertain, fp("a"), claim.Token)
}

// The stranded claim's owner was alive after all: its completion, a
// response or a tombstone, replaces the uncertain record Begin made;
// another token's does not, and its uncertain answer changes nothing.
func (s suite) strandedOwnerCompletes(t *testing.T, st core.Store) {
	ctx := context.Background()
	for _, c := range []struct {
		state   core.State
		outcome core.Outcome
	}{
		{core.StateCompleted, core.OutcomeRepeated},
		{core.StateTombstone, core.OutcomeUnavailable},
	} {
		k := key(t)
		claim, _ := s.abandonCommitted(t, st, k, ttl)
		wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeUncertain)
		if err := st.Complete(ctx, k, claim.Token+1, c.state, []byte("stale"), ttl); !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("Complete with another token = %v, want ErrLeaseLost", err)
		}
		if err := st.Complete(ctx, k, claim.Token, c.state, []byte("late"), ttl); err != nil {
			t.Fatalf("owner's Complete(%v) of its stranded record = %v, want nil", c.state, err)
		}
		res := mustBegin(t, st, k, fp("a"), time.Minute)
		wantOutcome(t, res, c.outcome)
		wantRecord(t, res.Record, c.state, fp("a"), claim.Token)
		if string(res.Record.Payload) != "late" || res.Stranded {
			t.Fatalf("after the owner's Complete: payload %q, stranded %v", res.Record.Payload, res.Stranded)
		}
		if err := st.Complete(ctx, k, claim.Token, c.state, []byte("late"), ttl); err != nil {
			t.Fatalf("resent Complete(%v) = %v, want nil", c.state, err)
		}
	}

	k := key(t)
	claim, _ := s.abandonCommitted(t, st, k, ttl)
	first := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, first, core.OutcomeUncertain)
	for i := 0; i < 2; i++ {
		if err := st.Complete(ctx, k, claim.Token, core.StateUncertain, []byte("failed"), ttl); err != nil {
			t.Fatalf("owner's Complete(uncertain) #%d of its stranded record = %v, want nil", i+1, err)
		}
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeUncertain)
	wantRecord(t, res.Record, core.StateUncertain, fp("a"), claim.Token)
	if res.Stranded {
		t.Fatal("stranded reported again")
	}
}
