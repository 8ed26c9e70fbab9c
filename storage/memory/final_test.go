package memory_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// claimCommitted claims k for a one-second lease and commits it.
func claimCommitted(t *testing.T, st core.Store, k string) uint64 {
	t.Helper()
	ctx := context.Background()
	res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin(%s) = %+v, %v", k, res, err)
	}
	if err := st.Commit(ctx, k, res.Token, nil); err != nil {
		t.Fatalf("Commit(%s): %v", k, err)
	}
	return res.Token
}

// A committed claim whose owner died is never reclaimed as an abandoned
// claim, however full the store: its key must not become free before its
// TTL. An uncommitted one is.
func TestCommittedClaimSurvivesPressure(t *testing.T) {
	const n = 64
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(n), memory.WithClock(clk.Now))
	token := claimCommitted(t, st, "paid")
	if _, err := st.Begin(ctx, "abandoned", core.Attempt{Nonce: nonces.Add(1), Lease: time.Second, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // both leases end
	for i := 0; i < 3*n; i++ {
		complete(t, st, fmt.Sprintf("flood:%d", i), nil, time.Hour)
		clk.Advance(time.Millisecond)
	}
	rec, err := st.Get(ctx, "paid")
	if err != nil || rec.State != core.StateInFlight || !rec.Committed || rec.Token != token {
		t.Fatalf("committed claim after the flood: %+v, %v", rec, err)
	}
	if _, err := st.Get(ctx, "abandoned"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("uncommitted abandoned claim kept: %v", err)
	}
	if s := st.Stats(); s.EvictedClaims != 1 {
		t.Fatalf("stats = %+v, want the uncommitted claim alone evicted as a claim", s)
	}
	memory.CheckInvariants(t, st)

	// Stranded, it is a final record like the others: evictable, and
	// counted when evicted.
	st = memory.New(memory.WithMaxEntries(1), memory.WithClock(clk.Now))
	claimCommitted(t, st, "paid")
	clk.Advance(2 * time.Second)
	res, err := st.Begin(ctx, "paid", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeUncertain || !res.Stranded {
		t.Fatalf("Begin of the stranded claim = %+v, %v", res, err)
	}
	memory.CheckInvariants(t, st)
	if res := complete(t, st, "next", nil, time.Hour); res.Evicted != 1 {
		t.Fatalf("Evicted = %d, want the uncertain record evicted", res.Evicted)
	}
	if _, err := st.Get(ctx, "paid"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("uncertain record kept in a store of one: %v", err)
	}
	if s := st.Stats(); s.Evicted != 1 {
		t.Fatalf("stats = %+v, want 1 evicted", s)
	}
	memory.CheckInvariants(t, st)
}

// Tombstones and uncertain records count against the bounds and are
// evicted, and counted, like completed records.
func TestFinalRecordsEvictedAndCounted(t *testing.T) {
	const n = 32
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(n), memory.WithClock(clk.Now))
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("k:%d", i)
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		state := []core.State{core.StateTombstone, core.StateUncertain}[i%2]
		if err := st.Complete(ctx, k, res.Token, state, []byte("reason"), time.Hour); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond)
	}
	if s := st.Stats(); s.Entries != n || s.Evicted != 0 {
		t.Fatalf("stats = %+v, want %d records, none evicted", s, n)
	}
	for i := 0; i < n; i++ {
		if res := complete(t, st, fmt.Sprintf("new:%d", i), nil, time.Hour); res.Evicted != 1 {
			t.Fatalf("new record %d evicted %d records, want 1", i, res.Evicted)
		}
		if i > 0 {
			continue
		}
		kept := 0 // the first new record could evict nothing but an old one
		for j := 0; j < n; j++ {
			if _, err := st.Get(ctx, fmt.Sprintf("k:%d", j)); err == nil {
				kept++
			}
		}
		if kept != n-1 {
			t.Fatalf("%d of %d tombstones and uncertain records kept, want %d", kept, n, n-1)
		}
	}
	if s := st.Stats(); s.Evicted != n || s.Entries != n {
		t.Fatalf("stats = %+v, want %d evicted", s, n)
	}
	memory.CheckInvariants(t, st)
}

// Committed claims past their lease are not evictable: a store full of
// them refuses new claims rather than free a key whose handler may have
// had effects.
func TestFullOfCommittedClaims(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithMaxEntries(4), memory.WithClock(clk.Now))
	for i := 0; i < 4; i++ {
		claimCommitted(t, st, fmt.Sprintf("c:%d", i))
	}
	clk.Advance(2 * time.Second)
	_, err := st.Begin(ctx, "new", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
	if !errors.Is(err, memory.ErrFull) {
		t.Fatalf("Begin in a store full of committed claims = %v, want ErrFull", err)
	}
	for i := 0; i < 4; i++ {
		if rec, err := st.Get(ctx, fmt.Sprintf("c:%d", i)); err != nil || !rec.Committed {
			t.Fatalf("committed claim %d: %+v, %v", i, rec, err)
		}
	}
	memory.CheckInvariants(t, st)
}

// A resent stranding Begin (its reply lost) reports Stranded again; any
// other attempt does not.
func TestResentStrandingBegin(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := memory.New(memory.WithClock(clk.Now))
	claimCommitted(t, st, "k")
	clk.Advance(2 * time.Second)
	a := core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour}
	res, err := coretest.Twice(st).Begin(ctx, "k", a)
	if err != nil || res.Outcome != core.OutcomeUncertain || !res.Stranded {
		t.Fatalf("resent stranding Begin = %+v, %v; want uncertain and stranded", res, err)
	}
	res, err = st.Begin(ctx, "k", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
	if err != nil || res.Outcome != core.OutcomeUncertain || res.Stranded {
		t.Fatalf("another attempt = %+v, %v; want uncertain, not stranded", res, err)
	}
	res, err = st.Begin(ctx, "k", core.Attempt{Lease: time.Minute, TTL: time.Hour})
	if err != nil || res.Stranded {
		t.Fatalf("an attempt without a nonce = %+v, %v; want not stranded", res, err)
	}
	memory.CheckInvariants(t, st)
}

// A tombstone or uncertain record is always written: its reason is
// dropped when it does not fit, while a response that does not fit is
// refused with core.ErrPayloadTooLarge and leaves the claim as it was.
func TestReasonDroppedWhenItDoesNotFit(t *testing.T) {
	ctx := context.Background()
	reason := make([]byte, 200)
	t.Run("TooLarge", func(t *testing.T) {
		st := memory.New(memory.WithMaxBytes(memory.EntryOverhead + 100))
		for _, state := range []core.State{core.StateTombstone, core.StateUncertain} {
			k := state.String()
			res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			err = st.Complete(ctx, k, res.Token, core.StateCompleted, reason, time.Hour)
			if !errors.Is(err, core.ErrPayloadTooLarge) || !errors.Is(err, memory.ErrTooLarge) || errors.Is(err, core.ErrStoreUnavailable) {
				t.Fatalf("Complete of a response over the bound = %v, want ErrPayloadTooLarge only", err)
			}
			if rec, err := st.Get(ctx, k); err != nil || rec.State != core.StateInFlight {
				t.Fatalf("claim after a refused response: %+v, %v", rec, err)
			}
			if err := st.Complete(ctx, k, res.Token, state, reason, time.Hour); err != nil {
				t.Fatalf("Complete(%v) with a reason over the bound = %v, want nil", state, err)
			}
			rec, err := st.Get(ctx, k)
			if err != nil || rec.State != state || rec.Payload != nil {
				t.Fatalf("record = %+v, %v; want a %v without its reason", rec, err, state)
			}
			if err := st.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
			memory.CheckInvariants(t, st)
		}
	})
	t.Run("NoRoom", func(t *testing.T) {
		// Two live claims fill the store's bytes; no record can be evicted.
		st := memory.New(memory.WithMaxBytes(2*(memory.EntryOverhead+1) + 100))
		a, err := st.Begin(ctx, "a", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		b, err := st.Begin(ctx, "b", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, "a", a.Token, core.StateCompleted, reason, time.Hour); !errors.Is(err, memory.ErrFull) {
			t.Fatalf("response with no room = %v, want ErrFull", err)
		}
		if err := st.Complete(ctx, "a", a.Token, core.StateTombstone, reason, time.Hour); err != nil {
			t.Fatalf("tombstone with no room for its reason = %v, want nil", err)
		}
		if rec, err := st.Get(ctx, "a"); err != nil || rec.State != core.StateTombstone || rec.Payload != nil {
			t.Fatalf("tombstone = %+v, %v", rec, err)
		}
		memory.CheckInvariants(t, st)
		// Now a is a final record: b's response may evict it, and counts it.
		if err := st.Complete(ctx, "b", b.Token, core.StateCompleted, reason, time.Hour); err != nil {
			t.Fatalf("response once a record can be evicted: %v", err)
		}
		if s := st.Stats(); s.Evicted != 1 {
			t.Fatalf("stats = %+v, want the tombstone evicted and counted", s)
		}
		memory.CheckInvariants(t, st)
	})
}

// The owner of a stranded record completes it with a response that needs
// room: another shard's records make it, not the stranded record itself,
// although it is the oldest.
func TestStrandedOwnerCompletesUnderPressure(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	const maxBytes = 64 * (memory.EntryOverhead + 64)
	st := memory.New(memory.WithMaxBytes(maxBytes), memory.WithClock(clk.Now))
	token := claimCommitted(t, st, "paid")
	clk.Advance(2 * time.Second)
	if res, err := st.Begin(ctx, "paid", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour}); err != nil || !res.Stranded {
		t.Fatalf("Begin = %+v, %v; want stranded", res, err)
	}
	for i := 0; st.Stats().Bytes+memory.EntryOverhead+64 <= maxBytes; i++ {
		complete(t, st, fmt.Sprintf("fill:%d", i), make([]byte, 48), 2*time.Hour)
	}
	response := []byte(strings.Repeat("r", 600))
	if err := st.Complete(ctx, "paid", token, core.StateCompleted, response, time.Hour); err != nil {
		t.Fatalf("owner's Complete of its stranded record under pressure: %v", err)
	}
	rec, err := st.Get(ctx, "paid")
	if err != nil || rec.State != core.StateCompleted || string(rec.Payload) != string(response) {
		t.Fatalf("record = %v, %v; want the owner's response", rec.State, err)
	}
	if s := st.Stats(); s.Evicted == 0 || s.Bytes > maxBytes {
		t.Fatalf("stats = %+v, want other records evicted within the bound", s)
	}
	memory.CheckInvariants(t, st)
}

// Resolve accounts the bytes of the record it writes, smaller or larger
// than the reason it replaces, and refuses a payload over the bound.
func TestResolveAccounting(t *testing.T) {
	ctx := context.Background()
	st := memory.New(memory.WithMaxBytes(64 << 10))
	for i, size := range []int{10, 5000} {
		k := fmt.Sprintf("k:%d", i)
		res, err := st.Begin(ctx, k, core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Complete(ctx, k, res.Token, core.StateTombstone, make([]byte, 1000), time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := st.Resolve(ctx, k, make([]byte, 70<<10), time.Hour); !errors.Is(err, core.ErrPayloadTooLarge) {
			t.Fatalf("Resolve with a payload over the bound = %v, want ErrPayloadTooLarge", err)
		}
		if err := st.Resolve(ctx, k, make([]byte, size), time.Hour); err != nil {
			t.Fatalf("Resolve: %v", err)
		}
		memory.CheckInvariants(t, st)
	}
}

// When the only final record left to evict is the stranded (uncertain)
// record itself (the store is otherwise full of live claims), making room
// for its owner's late Complete, or for an operator's Resolve, must not
// evict that record: the key would become free and a handler that
// declared effects would run again. The call may fail; the record stays.
func TestStrandedRecordNotEvictedToMakeItsOwnRoom(t *testing.T) {
	for _, via := range []string{"Complete", "Resolve"} {
		t.Run(via, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			const maxBytes = 32 * (memory.EntryOverhead + 16)
			st := memory.New(memory.WithMaxBytes(maxBytes), memory.WithClock(clk.Now))
			// Live claims fill the store, leaving room for one small record.
			for i := 0; st.Stats().Bytes+2*(memory.EntryOverhead+16) <= maxBytes; i++ {
				if _, err := st.Begin(ctx, fmt.Sprintf("live:%d", i), core.Attempt{Nonce: nonces.Add(1), Lease: time.Hour, TTL: 2 * time.Hour}); err != nil {
					t.Fatal(err)
				}
			}
			token := claimCommitted(t, st, "paid")
			clk.Advance(2 * time.Second)
			if res, err := st.Begin(ctx, "paid", core.Attempt{Nonce: nonces.Add(1), Lease: time.Minute, TTL: time.Hour}); err != nil || !res.Stranded {
				t.Fatalf("Begin = %+v, %v; want stranded", res, err)
			}
			free := maxBytes - st.Stats().Bytes
			payload := make([]byte, free+memory.EntryOverhead/2) // fits only if "paid" itself goes
			var err error
			if via == "Complete" {
				err = st.Complete(ctx, "paid", token, core.StateCompleted, payload, time.Hour)
			} else {
				err = st.Resolve(ctx, "paid", payload, time.Hour)
			}
			rec, gerr := st.Get(ctx, "paid")
			if gerr != nil {
				t.Fatalf("%s (err %v) evicted the stranded record it was settling: the key is free, a retry runs again", via, err)
			}
			if err == nil && rec.State != core.StateCompleted || err != nil && rec.State != core.StateUncertain {
				t.Fatalf("%s = %v, record %v", via, err, rec.State)
			}
			memory.CheckInvariants(t, st)
		})
	}
}
