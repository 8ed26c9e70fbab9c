package coretest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// resolvable is a key an operator may resolve, with the token of the
// claim that made its record.
type resolvable struct {
	key   string
	token uint64
}

// resolvables makes one key in each state an operator may resolve.
func (s suite) resolvables(t *testing.T, st core.Store) map[string]resolvable {
	t.Helper()
	ctx := context.Background()
	out := map[string]resolvable{}
	k, tok := finished(t, st, core.StateUncertain, "handler failed after effects")
	out["uncertain"] = resolvable{k, tok}
	k, tok = finished(t, st, core.StateTombstone, "response too large")
	out["tombstone"] = resolvable{k, tok}
	// Two abandoned committed claims: one that a Begin has stranded, one
	// that no request has looked at since its owner died.
	stranded, expired := key(t), key(t)
	c1, err := st.Begin(ctx, stranded, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: s.lease, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx, stranded, c1.Token, nil); err != nil {
		t.Fatal(err)
	}
	c2, _ := s.abandonCommitted(t, st, expired, ttl) // both leases expire
	wantOutcome(t, mustBegin(t, st, stranded, fp("a"), time.Minute), core.OutcomeUncertain)
	out["stranded"] = resolvable{stranded, c1.Token}
	out["expired committed claim"] = resolvable{expired, c2.Token}
	if rec := mustGet(t, st, expired); rec.State != core.StateInFlight || !rec.Committed {
		t.Fatalf("abandoned committed claim = %v, committed %v", rec.State, rec.Committed)
	}
	return out
}

// Resolve without a payload deletes a record an operator has looked into:
// the next request claims the key afresh.
func (s suite) resolveRelease(t *testing.T, st core.Store) {
	ctx := context.Background()
	for name, r := range s.resolvables(t, st) {
		if err := st.Resolve(ctx, r.key, nil, ttl); err != nil {
			t.Fatalf("Resolve(%s, nil) = %v, want nil", name, err)
		}
		wantAbsent(t, st, r.key)
		res := mustBegin(t, st, r.key, fp("a"), time.Minute)
		wantOutcome(t, res, core.OutcomeOriginal)
		if res.TookOver || res.Stranded || res.Token == r.token {
			t.Fatalf("%s: Begin after Resolve = %+v, want a fresh claim", name, res)
		}
		// The dead owner's token must not complete the new claim.
		if err := st.Complete(ctx, r.key, r.token, core.StateCompleted, []byte("late"), ttl); !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("%s: old owner's Complete after Resolve = %v, want ErrLeaseLost", name, err)
		}
	}
}

// Resolve with a payload stores it as the completed response, with the
// record's fingerprint: retries replay it.
func (s suite) resolveComplete(t *testing.T, st core.Store) {
	ctx := context.Background()
	for name, r := range s.resolvables(t, st) {
		if err := st.Resolve(ctx, r.key, []byte("operator's answer"), ttl); err != nil {
			t.Fatalf("Resolve(%s, payload) = %v, want nil", name, err)
		}
		res := mustBegin(t, st, r.key, fp("a"), time.Minute)
		wantOutcome(t, res, core.OutcomeRepeated)
		if res.Record.State != core.StateCompleted || string(res.Record.Payload) != "operator's answer" {
			t.Fatalf("%s: replay = %v %q, want the operator's answer", name, res.Record.State, res.Record.Payload)
		}
		if until := time.Until(res.Record.ExpiresAt); until < ttl-5*time.Second || until > ttl+5*time.Second {
			t.Fatalf("%s: resolved record expires in %v, want about %v", name, until, ttl)
		}
		wantOutcome(t, mustBegin(t, st, r.key, fp("b"), time.Minute), core.OutcomeMismatch)
		// The old owner's late answer is refused: the operator's record
		// holds no claim's token, so it is not taken for a resend.
		if err := st.Complete(ctx, r.key, r.token, core.StateCompleted, []byte("late"), ttl); !errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("%s: old owner's Complete after Resolve = %v, want ErrLeaseLost", name, err)
		}
		if rec := mustGet(t, st, r.key); rec.State != core.StateCompleted || string(rec.Payload) != "operator's answer" {
			t.Fatalf("%s: after the old owner's Complete: %v %q", name, rec.State, rec.Payload)
		}
		if err := st.Resolve(ctx, r.key, nil, ttl); !errors.Is(err, core.ErrNotResolvable) {
			t.Fatalf("%s: Resolve of the resolved (completed) record = %v, want ErrNotResolvable", name, err)
		}
	}
}

// Resolve refuses what has an owner or needs nothing, and changes
// nothing; an absent key is ErrNotFound.
func (s suite) resolveRefused(t *testing.T, st core.Store) {
	ctx := context.Background()
	live := key(t)
	liveClaim := mustBegin(t, st, live, fp("a"), time.Minute)
	committed := key(t)
	committedClaim := mustBegin(t, st, committed, fp("a"), time.Minute)
	if err := st.Commit(ctx, committed, committedClaim.Token, nil); err != nil {
		t.Fatal(err)
	}
	abandoned := key(t)
	abandonedClaim := mustBegin(t, st, abandoned, fp("a"), s.lease)
	done, doneToken := finished(t, st, core.StateCompleted, "response")
	time.Sleep(s.lease * 5 / 2) // abandoned's lease expires; the others' do not

	for _, c := range []struct {
		name, key string
		state     core.State
		token     uint64
		committed bool
	}{
		{"live claim", live, core.StateInFlight, liveClaim.Token, false},
		{"live committed claim", committed, core.StateInFlight, committedClaim.Token, true},
		{"expired uncommitted claim", abandoned, core.StateInFlight, abandonedClaim.Token, false},
		{"completed record", done, core.StateCompleted, doneToken, false},
	} {
		for _, payload := range [][]byte{nil, []byte("operator's answer")} {
			if err := st.Resolve(ctx, c.key, payload, ttl); !errors.Is(err, core.ErrNotResolvable) {
				t.Fatalf("Resolve(%s, %q) = %v, want ErrNotResolvable", c.name, payload, err)
			}
			rec := mustGet(t, st, c.key)
			wantRecord(t, rec, c.state, fp("a"), c.token)
			if rec.Committed != c.committed {
				t.Fatalf("%s: committed = %v after a refused Resolve", c.name, rec.Committed)
			}
		}
	}
	if rec := mustGet(t, st, done); string(rec.Payload) != "response" {
		t.Fatalf("completed payload = %q after a refused Resolve", rec.Payload)
	}
	// The abandoned claim is still taken over as before.
	res := mustBegin(t, st, abandoned, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeOriginal)
	if !res.TookOver {
		t.Fatal("expired uncommitted claim not taken over after a refused Resolve")
	}

	absent := key(t)
	for _, payload := range [][]byte{nil, []byte("x")} {
		if err := st.Resolve(ctx, absent, payload, ttl); !errors.Is(err, core.ErrNotFound) {
			t.Fatalf("Resolve of an absent key (payload %q) = %v, want ErrNotFound", payload, err)
		}
		wantAbsent(t, st, absent)
	}
}
