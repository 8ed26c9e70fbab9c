package idemredis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// Tests of committed claims, tombstones, uncertain records and Resolve,
// against a real redis-server (miniredis outside CI without one).

type statesEnv struct {
	t   *testing.T
	rdb *redis.Client
	st  *idemredis.Store
	seq int
}

func newStatesEnv(t *testing.T) *statesEnv {
	t.Helper()
	addr := redistest.Server(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return &statesEnv{t: t, rdb: rdb, st: idemredis.New(rdb, idemredis.WithPrefix("states:"))}
}

var (
	fpA = core.Fingerprint{0xa}
	fpB = core.Fingerprint{0xb}
)

const recTTL = time.Hour

func (e *statesEnv) key() string {
	e.seq++
	return fmt.Sprintf("%s-%d-%d", e.t.Name(), time.Now().UnixNano(), e.seq)
}

func (e *statesEnv) begin(k string, fp core.Fingerprint, lease time.Duration) core.BeginResult {
	e.t.Helper()
	res, err := e.st.Begin(context.Background(), k, core.Attempt{Fingerprint: fp, Nonce: uint64(time.Now().UnixNano()) | 1, Lease: lease, TTL: recTTL})
	if err != nil {
		e.t.Fatalf("Begin: %v", err)
	}
	return res
}

func (e *statesEnv) claim(k string, lease time.Duration) uint64 {
	e.t.Helper()
	res := e.begin(k, fpA, lease)
	if res.Outcome != core.OutcomeOriginal {
		e.t.Fatalf("Begin = %v, want claimed", res.Outcome)
	}
	return res.Token
}

// stranded returns a key whose committed claim (token returned) has an
// expired lease that no Begin has seen yet.
func (e *statesEnv) stranded() (string, uint64) {
	e.t.Helper()
	k := e.key()
	tok := e.claim(k, 20*time.Millisecond)
	if err := e.st.Commit(context.Background(), k, tok, nil); err != nil {
		e.t.Fatalf("Commit: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	return k, tok
}

func (e *statesEnv) get(k string) core.Record {
	e.t.Helper()
	rec, err := e.st.Get(context.Background(), k)
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	return rec
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}

func TestCommit(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	k := e.key()
	tok := e.claim(k, time.Minute)
	if e.get(k).Committed {
		t.Fatal("a fresh claim is committed")
	}
	wantErr(t, "Commit with another token", e.st.Commit(ctx, k, tok+1, nil), core.ErrLeaseLost)
	if e.get(k).Committed {
		t.Fatal("Commit with another token committed the claim")
	}
	wantErr(t, "Commit", e.st.Commit(ctx, k, tok, nil), nil)
	wantErr(t, "resent Commit", e.st.Commit(ctx, k, tok, nil), nil)
	rec := e.get(k)
	if !rec.Committed || rec.State != core.StateInFlight || rec.Token != tok {
		t.Fatalf("record %+v, want a committed claim", rec)
	}
	// A live committed claim is in flight for its fingerprint, a mismatch
	// for another, and is renewed like any other.
	res := e.begin(k, fpA, time.Minute)
	if res.Outcome != core.OutcomeConflict || !res.Record.Committed || res.Record.Token != tok || res.Stranded {
		t.Fatalf("Begin on a live committed claim = %+v", res)
	}
	res = e.begin(k, fpB, time.Minute)
	if res.Outcome != core.OutcomeMismatch || !res.Record.Committed || res.Record.State != core.StateInFlight || res.Stranded {
		t.Fatalf("Begin with another fingerprint = %+v", res)
	}
	wantErr(t, "Renew of a committed claim", e.st.Renew(ctx, k, tok, time.Minute), nil)
	wantErr(t, "Resolve of a live committed claim", e.st.Resolve(ctx, k, nil, recTTL), core.ErrNotResolvable)
	// Completed: Commit is refused, and the final record is not committed.
	wantErr(t, "Complete", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("done"), recTTL), nil)
	wantErr(t, "Commit after Complete", e.st.Commit(ctx, k, tok, nil), core.ErrLeaseLost)
	if rec := e.get(k); rec.Committed || rec.State != core.StateCompleted {
		t.Fatalf("record %+v", rec)
	}
	wantErr(t, "Commit of an absent key", e.st.Commit(ctx, e.key(), tok, nil), core.ErrLeaseLost)
	if n := e.rdb.Exists(ctx, e.st.RecordKey(e.key())).Val(); n != 0 {
		t.Fatal("Commit of an absent key wrote a record")
	}
}

func TestReleaseCommitted(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	k := e.key()
	tok := e.claim(k, time.Minute)
	wantErr(t, "Commit", e.st.Commit(ctx, k, tok, nil), nil)
	wantErr(t, "Release of another token", e.st.Release(ctx, k, tok+1), core.ErrLeaseLost)
	wantErr(t, "Release", e.st.Release(ctx, k, tok), nil)
	if _, err := e.st.Get(ctx, k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get after Release = %v", err)
	}
	wantErr(t, "resent Release", e.st.Release(ctx, k, tok), nil)
}

// The first Begin after a committed claim's lease turns it into an
// uncertain record, whatever its fingerprint, and only that Begin reports
// it stranded.
func TestStrandedOnce(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		k, tok := e.stranded()
		pttlBefore := e.rdb.PTTL(ctx, e.st.RecordKey(k)).Val()
		const n = 40
		res := make([]core.BeginResult, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fp := fpA
				if i%2 == 1 {
					fp = fpB
				}
				<-start
				res[i], errs[i] = e.st.Begin(ctx, k, core.Attempt{Fingerprint: fp, Nonce: uint64(i + 1), Lease: time.Minute, TTL: recTTL})
			}()
		}
		close(start)
		wg.Wait()
		stranded := 0
		for i, r := range res {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if r.Stranded {
				stranded++
			}
			want := core.OutcomeUncertain
			if i%2 == 1 {
				want = core.OutcomeMismatch
			}
			if r.Outcome != want {
				t.Fatalf("Begin #%d = %v, want %v", i, r.Outcome, want)
			}
			rec := r.Record
			if rec.State != core.StateUncertain || rec.Token != tok || string(rec.Payload) != "owner lost its lease after declaring effects" ||
				rec.Committed || !rec.LeaseUntil.IsZero() || rec.ExpiresAt.IsZero() {
				t.Fatalf("Begin #%d record %+v", i, rec)
			}
			if i%2 == 0 && rec.Fingerprint != fpA || i%2 == 1 && rec.Fingerprint != fpA {
				t.Fatalf("Begin #%d: record fingerprint %v, want the claim's", i, rec.Fingerprint)
			}
		}
		if stranded != 1 {
			t.Fatalf("round %d: %d Begins reported the claim stranded, want exactly 1", round, stranded)
		}
		// The key keeps its expiry (the claim's TTL), not a new one.
		if pttl := e.rdb.PTTL(ctx, e.st.RecordKey(k)).Val(); pttl <= 0 || pttl > pttlBefore {
			t.Fatalf("PTTL %v after stranding, was %v", pttl, pttlBefore)
		}
		rec := e.get(k)
		if rec.State != core.StateUncertain || rec.Token != tok || rec.Fingerprint != fpA || rec.Committed {
			t.Fatalf("Get = %+v", rec)
		}
		// The owner, should it still run, no longer holds a claim.
		wantErr(t, "owner's Renew", e.st.Renew(ctx, k, tok, time.Minute), core.ErrLeaseLost)
		rs := []core.Renewal{{Key: k, Token: tok}}
		e.st.RenewBatch(ctx, time.Minute, rs)
		wantErr(t, "owner's RenewBatch", rs[0].Err, core.ErrLeaseLost)
		wantErr(t, "owner's Commit", e.st.Commit(ctx, k, tok, nil), core.ErrLeaseLost)
		wantErr(t, "owner's Release", e.st.Release(ctx, k, tok), core.ErrLeaseLost)
		wantErr(t, "another token's Complete", e.st.Complete(ctx, k, tok+1, core.StateCompleted, []byte("x"), recTTL), core.ErrLeaseLost)
		if rec := e.get(k); rec.State != core.StateUncertain {
			t.Fatalf("record changed: %+v", rec)
		}
	}
}

// The stranding Begin's resend (its reply was lost) reports the claim
// stranded too, so that the Engine still reports it; another attempt does
// not. The owner's own resent Begin gets its claim back instead of
// stranding it.
func TestStrandedResend(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	k, tok := e.stranded()
	a := core.Attempt{Fingerprint: fpB, Nonce: 4242, Lease: time.Minute, TTL: recTTL}
	for i := range 2 {
		res, err := e.st.Begin(ctx, k, a)
		if err != nil || res.Outcome != core.OutcomeMismatch || !res.Stranded || res.Record.State != core.StateUncertain {
			t.Fatalf("stranding Begin #%d = %+v, %v", i+1, res, err)
		}
	}
	if res := e.begin(k, fpA, time.Minute); res.Outcome != core.OutcomeUncertain || res.Stranded {
		t.Fatalf("another Begin = %+v", res)
	}
	// Once the owner completed it, the resend no longer reports it.
	wantErr(t, "owner's Complete", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("done"), recTTL), nil)
	if res, err := e.st.Begin(ctx, k, a); err != nil || res.Outcome != core.OutcomeMismatch || res.Stranded {
		t.Fatalf("stranding Begin resent after completion = %+v, %v", res, err)
	}

	// The owner's resent Begin, after its lease ended: its own claim.
	k = e.key()
	own := core.Attempt{Fingerprint: fpA, Nonce: 99, Lease: 20 * time.Millisecond, TTL: recTTL}
	res, err := e.st.Begin(ctx, k, own)
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatal(res, err)
	}
	wantErr(t, "Commit", e.st.Commit(ctx, k, res.Token, nil), nil)
	time.Sleep(50 * time.Millisecond)
	again, err := e.st.Begin(ctx, k, own)
	if err != nil || again.Outcome != core.OutcomeOriginal || again.Token != res.Token || again.Stranded {
		t.Fatalf("owner's resent Begin = %+v, %v", again, err)
	}
	if res := e.begin(k, fpA, time.Minute); res.Outcome != core.OutcomeUncertain || !res.Stranded {
		t.Fatalf("another Begin = %+v", res)
	}
}

// An expired claim that was never committed is taken over, as before.
func TestUncommittedExpiredIsTakenOver(t *testing.T) {
	e := newStatesEnv(t)
	k := e.key()
	tok := e.claim(k, 20*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	wantErr(t, "Resolve of an expired uncommitted claim", e.st.Resolve(context.Background(), k, nil, recTTL), core.ErrNotResolvable)
	res := e.begin(k, fpA, time.Minute)
	if res.Outcome != core.OutcomeOriginal || !res.TookOver || res.Stranded || res.Token <= tok {
		t.Fatalf("Begin = %+v", res)
	}
}

// The owner of a stranded claim finishes after all: its completion (or
// tombstone) replaces the uncertain record; a resent uncertain completion
// changes nothing.
func TestCompleteReplacesStrandedRecord(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	for _, final := range []core.State{core.StateCompleted, core.StateTombstone} {
		k, tok := e.stranded()
		if res := e.begin(k, fpA, time.Minute); res.Outcome != core.OutcomeUncertain || !res.Stranded {
			t.Fatalf("Begin = %+v", res)
		}
		wantErr(t, "owner's uncertain Complete", e.st.Complete(ctx, k, tok, core.StateUncertain, []byte("handler failed"), recTTL), nil)
		if rec := e.get(k); rec.State != core.StateUncertain || string(rec.Payload) != "owner lost its lease after declaring effects" {
			t.Fatalf("an uncertain Complete changed the stranded record: %+v", rec)
		}
		wantErr(t, "owner's Complete", e.st.Complete(ctx, k, tok, final, []byte("finished"), recTTL), nil)
		rec := e.get(k)
		if rec.State != final || string(rec.Payload) != "finished" || rec.Token != tok || rec.Fingerprint != fpA {
			t.Fatalf("%v: record %+v", final, rec)
		}
		if d := time.Until(rec.ExpiresAt); d < recTTL-time.Minute {
			t.Fatalf("%v: expires in %v, want the completion's ttl %v", final, d, recTTL)
		}
		// Resent: unchanged, even with another state or payload.
		wantErr(t, "resent Complete", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("again"), recTTL), nil)
		wantErr(t, "resent uncertain Complete", e.st.Complete(ctx, k, tok, core.StateUncertain, []byte("again"), recTTL), nil)
		if rec := e.get(k); rec.State != final || string(rec.Payload) != "finished" {
			t.Fatalf("%v: a resend changed the record: %+v", final, rec)
		}
		want := map[core.State]core.Outcome{core.StateCompleted: core.OutcomeRepeated, core.StateTombstone: core.OutcomeUnavailable}[final]
		if res := e.begin(k, fpA, time.Minute); res.Outcome != want || string(res.Record.Payload) != "finished" || res.Stranded {
			t.Fatalf("Begin = %+v, want %v", res, want)
		}
	}
}

func TestCompleteStates(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		state   core.State
		outcome core.Outcome
	}{
		{core.StateCompleted, core.OutcomeRepeated},
		{core.StateTombstone, core.OutcomeUnavailable},
		{core.StateUncertain, core.OutcomeUncertain},
	} {
		k := e.key()
		tok := e.claim(k, time.Minute)
		wantErr(t, "Commit", e.st.Commit(ctx, k, tok, nil), nil)
		wantErr(t, "Complete with another token", e.st.Complete(ctx, k, tok+1, tc.state, []byte("x"), recTTL), core.ErrLeaseLost)
		wantErr(t, "Complete", e.st.Complete(ctx, k, tok, tc.state, []byte("reason"), recTTL), nil)
		wantErr(t, "resent Complete", e.st.Complete(ctx, k, tok, tc.state, []byte("other"), recTTL), nil)
		res := e.begin(k, fpA, time.Minute)
		if res.Outcome != tc.outcome || res.Record.State != tc.state || string(res.Record.Payload) != "reason" ||
			res.Record.Token != tok || res.Record.Fingerprint != fpA || res.Stranded || res.Record.Committed {
			t.Fatalf("%v: Begin = %+v", tc.state, res)
		}
		if d := time.Until(res.Record.ExpiresAt); d < recTTL-time.Minute || d > recTTL+time.Minute {
			t.Fatalf("%v: expires in %v", tc.state, d)
		}
		res = e.begin(k, fpB, time.Minute)
		if res.Outcome != core.OutcomeMismatch || res.Record.State != tc.state || res.Record.Fingerprint != fpA || string(res.Record.Payload) != "reason" {
			t.Fatalf("%v: Begin with another fingerprint = %+v", tc.state, res)
		}
		if rec := e.get(k); rec.State != tc.state || string(rec.Payload) != "reason" || rec.Committed || !rec.LeaseUntil.IsZero() {
			t.Fatalf("%v: Get = %+v", tc.state, rec)
		}
		wantErr(t, "Release of a final record", e.st.Release(ctx, k, tok), core.ErrLeaseLost)
		wantErr(t, "Renew of a final record", e.st.Renew(ctx, k, tok, time.Minute), core.ErrLeaseLost)
	}
	// A tombstone is final: a later completion with its token is a resend.
	k := e.key()
	tok := e.claim(k, time.Minute)
	wantErr(t, "tombstone", e.st.Complete(ctx, k, tok, core.StateTombstone, []byte("too large"), recTTL), nil)
	wantErr(t, "Complete after the tombstone", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("resp"), recTTL), nil)
	if rec := e.get(k); rec.State != core.StateTombstone || string(rec.Payload) != "too large" {
		t.Fatalf("record %+v", rec)
	}
	// The owner's own uncertain record is final too: only the one Begin
	// made of a stranded claim gives way.
	k = e.key()
	tok = e.claim(k, time.Minute)
	wantErr(t, "uncertain", e.st.Complete(ctx, k, tok, core.StateUncertain, []byte("failed"), recTTL), nil)
	wantErr(t, "tombstone after uncertain", e.st.Complete(ctx, k, tok, core.StateTombstone, []byte("ran"), recTTL), nil)
	wantErr(t, "completion after uncertain", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("ran"), recTTL), nil)
	if rec := e.get(k); rec.State != core.StateUncertain || string(rec.Payload) != "failed" {
		t.Fatalf("record %+v", rec)
	}
	// A state that ends nothing is the caller's bug, not a lost lease.
	k = e.key()
	tok = e.claim(k, time.Minute)
	for _, s := range []core.State{0, core.StateInFlight, core.StateUncertain + 1} {
		if err := e.st.Complete(ctx, k, tok, s, nil, recTTL); err == nil || errors.Is(err, core.ErrLeaseLost) {
			t.Fatalf("Complete with state %v = %v", s, err)
		}
	}
	if rec := e.get(k); rec.State != core.StateInFlight {
		t.Fatalf("record %+v", rec)
	}
}

func TestResolve(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	wantErr(t, "Resolve of an absent key", e.st.Resolve(ctx, e.key(), nil, recTTL), core.ErrNotFound)
	wantErr(t, "Resolve of an absent key", e.st.Resolve(ctx, e.key(), []byte("r"), recTTL), core.ErrNotFound)

	// Not resolvable: a live claim, committed or not, an expired
	// uncommitted claim, a completed record. Nothing changes.
	live := e.key()
	tok := e.claim(live, time.Minute)
	wantErr(t, "Resolve of a live claim", e.st.Resolve(ctx, live, []byte("r"), recTTL), core.ErrNotResolvable)
	wantErr(t, "Commit", e.st.Commit(ctx, live, tok, nil), nil)
	wantErr(t, "Resolve of a live committed claim", e.st.Resolve(ctx, live, nil, recTTL), core.ErrNotResolvable)
	if rec := e.get(live); rec.State != core.StateInFlight || rec.Token != tok || !rec.Committed {
		t.Fatalf("record %+v", rec)
	}
	wantErr(t, "Complete", e.st.Complete(ctx, live, tok, core.StateCompleted, []byte("resp"), recTTL), nil)
	wantErr(t, "Resolve of a completed record", e.st.Resolve(ctx, live, []byte("r"), recTTL), core.ErrNotResolvable)
	wantErr(t, "Resolve of a completed record", e.st.Resolve(ctx, live, nil, recTTL), core.ErrNotResolvable)
	if rec := e.get(live); rec.State != core.StateCompleted || string(rec.Payload) != "resp" {
		t.Fatalf("record %+v", rec)
	}

	// Resolvable, each released (nil) or completed: a tombstone, an
	// uncertain record, a stranded record, a committed claim whose lease
	// expired before any Begin saw it.
	type subject struct {
		name string
		make func() (string, uint64)
	}
	final := func(s core.State) func() (string, uint64) {
		return func() (string, uint64) {
			k := e.key()
			tok := e.claim(k, time.Minute)
			if err := e.st.Complete(ctx, k, tok, s, []byte("reason"), recTTL); err != nil {
				t.Fatal(err)
			}
			return k, tok
		}
	}
	for _, sub := range []subject{
		{"tombstone", final(core.StateTombstone)},
		{"uncertain", final(core.StateUncertain)},
		{"stranded", func() (string, uint64) {
			k, tok := e.stranded()
			if res := e.begin(k, fpA, time.Minute); !res.Stranded {
				t.Fatalf("Begin = %+v", res)
			}
			return k, tok
		}},
		{"expired committed claim", e.stranded},
	} {
		t.Run(sub.name, func(t *testing.T) {
			k, tok := sub.make()
			wantErr(t, "Resolve (release)", e.st.Resolve(ctx, k, nil, recTTL), nil)
			if _, err := e.st.Get(ctx, k); !errors.Is(err, core.ErrNotFound) {
				t.Fatalf("Get after release = %v", err)
			}
			wantErr(t, "resent Resolve (release)", e.st.Resolve(ctx, k, nil, recTTL), core.ErrNotFound)
			wantErr(t, "owner's Complete after the release", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("late"), recTTL), core.ErrLeaseLost)
			if res := e.begin(k, fpB, time.Minute); res.Outcome != core.OutcomeOriginal {
				t.Fatalf("Begin after release = %v, want a fresh claim", res.Outcome)
			}

			k, tok = sub.make()
			const ttl = 10 * time.Minute
			wantErr(t, "Resolve (complete)", e.st.Resolve(ctx, k, []byte("operator's response"), ttl), nil)
			rec := e.get(k)
			if rec.State != core.StateCompleted || string(rec.Payload) != "operator's response" || rec.Fingerprint != fpA ||
				rec.Committed || !rec.LeaseUntil.IsZero() {
				t.Fatalf("record after Resolve %+v", rec)
			}
			if d := time.Until(rec.ExpiresAt); d > ttl || d < ttl-time.Minute {
				t.Fatalf("expires in %v, want about %v", d, ttl)
			}
			wantErr(t, "resent Resolve (complete)", e.st.Resolve(ctx, k, []byte("operator's response"), ttl), core.ErrNotResolvable)
			// The owner, late, neither overwrites the operator's answer
			// nor takes it for its own.
			wantErr(t, "owner's Complete after the resolution", e.st.Complete(ctx, k, tok, core.StateCompleted, []byte("late"), recTTL), core.ErrLeaseLost)
			res := e.begin(k, fpA, time.Minute)
			if res.Outcome != core.OutcomeRepeated || string(res.Record.Payload) != "operator's response" {
				t.Fatalf("Begin after Resolve = %+v", res)
			}
			if res := e.begin(k, fpB, time.Minute); res.Outcome != core.OutcomeMismatch {
				t.Fatalf("Begin with another fingerprint after Resolve = %v", res.Outcome)
			}
		})
	}

	// An empty, non-nil payload is a response, not a release.
	k, _ := final(core.StateUncertain)()
	wantErr(t, "Resolve with an empty payload", e.st.Resolve(ctx, k, []byte{}, recTTL), nil)
	if rec := e.get(k); rec.State != core.StateCompleted || len(rec.Payload) != 0 {
		t.Fatalf("record %+v", rec)
	}
	k, _ = final(core.StateUncertain)()
	if err := e.st.Resolve(ctx, k, []byte("r"), 0); err == nil {
		t.Fatal("Resolve with a zero ttl accepted")
	}
	if rec := e.get(k); rec.State != core.StateUncertain {
		t.Fatalf("record %+v", rec)
	}
}

// A record of an unknown format is neither resolved nor committed.
func TestUnknownFormatNotResolvable(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	for name, fields := range map[string][]any{
		"future version": {"v", "99", "s", "4", "f", "x", "t", "1", "p", "?"},
		"unknown state":  {"v", idemredis.FormatVersion, "s", "9", "f", "x", "t", "1", "p", "?"},
	} {
		k := e.key()
		rk := e.st.RecordKey(k)
		if err := e.rdb.HSet(ctx, rk, fields...).Err(); err != nil {
			t.Fatal(err)
		}
		err := e.st.Resolve(ctx, k, nil, recTTL)
		if !errors.Is(err, core.ErrNotResolvable) || !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%s: Resolve = %v, want not resolvable + corrupt", name, err)
		}
		wantErr(t, name+": Commit", e.st.Commit(ctx, k, 1, nil), core.ErrLeaseLost)
		wantErr(t, name+": Complete", e.st.Complete(ctx, k, 1, core.StateCompleted, nil, recTTL), core.ErrLeaseLost)
		_, err = e.st.Begin(ctx, k, core.Attempt{Fingerprint: fpA, Nonce: 1, Lease: time.Minute, TTL: recTTL})
		if !errors.Is(err, core.ErrCorruptRecord) || !errors.Is(err, core.ErrStoreUnavailable) {
			t.Fatalf("%s: Begin = %v", name, err)
		}
		if _, err := e.st.Get(ctx, k); !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%s: Get = %v", name, err)
		}
		if got := e.rdb.HGetAll(ctx, rk).Val(); len(got) != len(fields)/2 || got["s"] != fields[3] {
			t.Fatalf("%s: the record was changed: %v", name, got)
		}
	}
}

// Every call sent twice, the first reply lost (coretest.Twice): the new
// states' life cycles never conflict with themselves.
func TestStatesEveryCallTwice(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	tw := coretest.Twice(e.st)
	for _, s := range []core.State{core.StateCompleted, core.StateTombstone, core.StateUncertain} {
		k := e.key()
		res, err := tw.Begin(ctx, k, core.Attempt{Fingerprint: fpA, Nonce: 77, Lease: time.Minute, TTL: recTTL})
		if err != nil || res.Outcome != core.OutcomeOriginal {
			t.Fatalf("Begin sent twice = %v, %v", res.Outcome, err)
		}
		wantErr(t, "Commit sent twice", tw.Commit(ctx, k, res.Token, nil), nil)
		wantErr(t, "Complete sent twice", tw.Complete(ctx, k, res.Token, s, []byte("once"), recTTL), nil)
		if rec := e.get(k); rec.State != s || string(rec.Payload) != "once" {
			t.Fatalf("record %+v", rec)
		}
	}
	k := e.key()
	res, _ := tw.Begin(ctx, k, core.Attempt{Fingerprint: fpA, Nonce: 78, Lease: time.Minute, TTL: recTTL})
	wantErr(t, "Commit sent twice", tw.Commit(ctx, k, res.Token, nil), nil)
	wantErr(t, "Release of a committed claim sent twice", tw.Release(ctx, k, res.Token), nil)
}

// The Engine on the Redis store: a handler that fails after declaring
// effects leaves the key uncertain; a dead owner's committed claim is
// reported once by concurrent retries; Engine.Resolve settles both.
func TestEngineEffects(t *testing.T) {
	e := newStatesEnv(t)
	ctx := context.Background()
	ev := &events{}
	eng, err := core.New(core.WithStore(e.st), core.WithKeyValidator(core.Token()), core.WithTelemetry(ev),
		core.WithLockWait(0), core.WithAlertHandler(func(context.Context, core.Event) {}))
	if err != nil {
		t.Fatal(err)
	}
	var runs int
	failAfterEffects := func(ctx context.Context) ([]byte, error) {
		runs++
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err
		}
		return nil, errors.New("provider timed out")
	}
	if _, _, err := eng.Do(ctx, "s", "charge", fpA, failAfterEffects); err == nil {
		t.Fatal("Do succeeded")
	}
	rec, err := e.st.Get(ctx, core.StoreKey("s", "charge"))
	if err != nil || rec.State != core.StateUncertain {
		t.Fatalf("record %+v, %v; want uncertain", rec, err)
	}
	if _, _, err := eng.Do(ctx, "s", "charge", fpA, failAfterEffects); !errors.Is(err, core.ErrUncertain) || runs != 1 {
		t.Fatalf("retry: %v after %d runs, want ErrUncertain after 1", err, runs)
	}
	if err := eng.Resolve(ctx, "s", "charge", &core.Response{Status: 200, Body: []byte("charged")}); err != nil {
		t.Fatal(err)
	}
	out, replayed, err := eng.Do(ctx, "s", "charge", fpA, failAfterEffects)
	if err != nil || !replayed || string(out) != "charged" || runs != 1 {
		t.Fatalf("after Resolve: %q replayed=%v err=%v runs=%d", out, replayed, err, runs)
	}

	// A dead owner: its committed claim's lease ends, ten retries race.
	sk := core.StoreKey("s", "dead")
	res, err := e.st.Begin(ctx, sk, core.Attempt{Fingerprint: fpA, Nonce: 5, Lease: 20 * time.Millisecond, TTL: recTTL})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatal(res, err)
	}
	if err := e.st.Commit(ctx, sk, res.Token, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = eng.Do(ctx, "s", "dead", fpA, func(context.Context) ([]byte, error) { return []byte("ran again"), nil })
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, core.ErrUncertain) {
			t.Fatalf("retry of a dead owner's committed claim: %v, want ErrUncertain", err)
		}
	}
	if n := len(ev.of(core.EventOperationUncertain)); n != 2 { // the failed handler above, and this once
		t.Fatalf("%d OPERATION_UNCERTAIN events, want 2", n)
	}
	if err := eng.Resolve(ctx, "s", "dead", nil); err != nil {
		t.Fatal(err)
	}
	if out, replayed, err := eng.Do(ctx, "s", "dead", fpA, func(context.Context) ([]byte, error) { return []byte("fresh"), nil }); err != nil || replayed || string(out) != "fresh" {
		t.Fatalf("after release: %q %v %v", out, replayed, err)
	}
	if err := eng.Resolve(ctx, "s", "dead", nil); !errors.Is(err, core.ErrNotResolvable) {
		t.Fatalf("Resolve of a completed key = %v", err)
	}
}
