package coretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// NewStore returns a fresh, empty store for one subtest.
type NewStore func(t *testing.T) core.Store

// Timing is the lease used by the expiry tests; stores with coarse clocks
// can pass a longer one through TestStoreWith. Sleeps are 2.5× the lease.
const defaultLease = 150 * time.Millisecond

// TestStore runs the store conformance suite against stores made by
// newStore. Every subtest gets its own store and its own keys.
func TestStore(t *testing.T, newStore NewStore) {
	TestStoreWith(t, newStore, defaultLease)
}

// TestStoreWith is TestStore with the lease the expiry subtests use.
func TestStoreWith(t *testing.T, newStore NewStore, lease time.Duration) {
	s := suite{newStore: newStore, lease: lease}
	tests := []struct {
		name string
		run  func(t *testing.T, st core.Store)
	}{
		{"BeginClaimsAbsentKey", s.beginClaims},
		{"DuplicateSeesInFlight", s.duplicateInFlight},
		{"DifferentFingerprintMismatches", s.mismatch},
		{"CompleteThenReplay", s.completeReplay},
		{"ReleaseLetsRetryRunFresh", s.release},
		{"ExpiredLeaseIsTakenOver", s.takeover},
		{"StaleOwnerIsFenced", s.fencing},
		{"RenewKeepsClaim", s.renew},
		{"TTLExpiry", s.ttlExpiry},
		{"DeleteForgetsAndFences", s.deleteKey},
		{"GetMissing", s.getMissing},
		{"TokensNeverRepeat", s.tokensUnique},
		{"KeysAreIsolated", s.isolation},
		{"AwkwardKeys", s.awkwardKeys},
		{"ManyGoroutinesOneKey", s.concurrentBegin},
		{"ManyGoroutinesTakeOver", s.concurrentTakeover},
		{"ManyGoroutinesFullCycle", s.concurrentCycle},
		{"Cooldowns", s.cooldowns},
		{"ResentBeginReturnsTheSameClaim", s.resentBegin},
		{"ResentCompleteAndReleaseSucceed", s.resentFinish},
		{"EveryCallSentTwice", s.everyCallTwice},
		{"ManyGoroutinesEveryCallTwice", s.concurrentTwice},
		{"BatchRenewal", s.batchRenew},
		{"TombstoneAnswersUnavailable", s.tombstone},
		{"UncertainViaComplete", s.uncertainComplete},
		{"CommitIsIdempotentAndFenced", s.commit},
		{"ReleaseOfACommittedClaim", s.releaseCommitted},
		{"FinalCallsSentTwice", s.finalTwice},
		{"CommittedClaimIsStrandedNotTakenOver", s.strandedNotTakenOver},
		{"ResentStrandingBeginReportsStranded", s.strandedResentBegin},
		{"MismatchStrandsToo", s.strandedByMismatch},
		{"StrandedRecordKeepsItsExpiry", s.strandedExpires},
		{"UncommittedClaimIsStillTakenOver", s.uncommittedTakenOver},
		{"ManyGoroutinesOneStrandedKey", s.concurrentStranded},
		{"StrandedOwnerCompletes", s.strandedOwnerCompletes},
		{"ResolveWithoutPayloadFreesTheKey", s.resolveRelease},
		{"ResolveWithPayloadReplays", s.resolveComplete},
		{"ResolveRefusesOtherStates", s.resolveRefused},
		{"SigRoundTrips", s.sigRoundTrips},
		{"SigKeptByRenewAndCommit", s.sigKeptByRenewAndCommit},
		{"SigReplacedByTakeover", s.sigReplacedByTakeover},
		{"SigOfAResentBegin", s.sigResentBegin},
		{"NoSig", s.sigNone},
		{"CommitSigRoundTrips", s.commitSigRoundTrips},
		{"SigsKeptWhenStranded", s.sigsKeptWhenStranded},
		{"NotifierWakesWatchers", s.notifier},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, s.newStore(t))
		})
	}
}

type suite struct {
	newStore NewStore
	lease    time.Duration
}

var keySeq atomic.Uint64

// key returns a key unique to this process run, so suites may share a
// backing server.
func key(t *testing.T) string {
	return fmt.Sprintf("coretest:%s:%d:%d", t.Name(), time.Now().UnixNano(), keySeq.Add(1))
}

func fp(s string) core.Fingerprint {
	var f core.Fingerprint
	copy(f[:], s)
	return f
}

const ttl = time.Minute

func mustBegin(t *testing.T, st core.Store, k string, f core.Fingerprint, lease time.Duration) core.BeginResult {
	t.Helper()
	res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: f, Nonce: nonce(), Lease: lease, TTL: ttl})
	if err != nil {
		t.Fatalf("Begin(%q): %v", k, err)
	}
	return res
}

func wantOutcome(t *testing.T, res core.BeginResult, want core.Outcome) {
	t.Helper()
	if res.Outcome != want {
		t.Fatalf("outcome = %v, want %v", res.Outcome, want)
	}
}

func (s suite) beginClaims(t *testing.T, st core.Store) {
	k := key(t)
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeOriginal)
	if res.Token == 0 {
		t.Fatal("claim has token 0")
	}
	if res.TookOver {
		t.Fatal("fresh claim reported as takeover")
	}
	rec, err := st.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if rec.State != core.StateInFlight || rec.Token != res.Token || rec.Fingerprint != fp("a") {
		t.Fatalf("record = %+v, want in flight with token %d", rec, res.Token)
	}
	if !rec.LeaseUntil.After(time.Now()) {
		t.Fatalf("lease ends in the past: %v", rec.LeaseUntil)
	}
}

func (s suite) duplicateInFlight(t *testing.T, st core.Store) {
	k := key(t)
	first := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, first, core.OutcomeOriginal)
	dup := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, dup, core.OutcomeConflict)
	if dup.Token != 0 {
		t.Fatalf("duplicate got a token: %d", dup.Token)
	}
	if dup.Record.LeaseUntil.IsZero() {
		t.Fatal("in-flight answer carries no lease end (Inspect and idemctl show it)")
	}
}

func (s suite) mismatch(t *testing.T, st core.Store) {
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, mustBegin(t, st, k, fp("b"), time.Minute), core.OutcomeMismatch)
	if err := st.Complete(context.Background(), k, claim.Token, core.StateCompleted, []byte("x"), ttl); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantOutcome(t, mustBegin(t, st, k, fp("b"), time.Minute), core.OutcomeMismatch)
	wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeRepeated)
}

func (s suite) completeReplay(t *testing.T, st core.Store) {
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	payload := []byte("\x00binary\xffpayload")
	if err := st.Complete(context.Background(), k, claim.Token, core.StateCompleted, payload, ttl); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	if !bytes.Equal(res.Record.Payload, payload) {
		t.Fatalf("payload = %q, want %q", res.Record.Payload, payload)
	}
	if res.Record.State != core.StateCompleted {
		t.Fatalf("state = %v", res.Record.State)
	}
	if until := time.Until(res.Record.ExpiresAt); until < ttl-5*time.Second || until > ttl+5*time.Second {
		t.Fatalf("record expires in %v, want about %v", until, ttl)
	}
	// Completing again with the same token is a resent command: it
	// succeeds and changes nothing.
	if err := st.Complete(context.Background(), k, claim.Token, core.StateCompleted, []byte("again"), ttl); err != nil {
		t.Fatalf("resent Complete = %v, want nil", err)
	}
	if err := st.Release(context.Background(), k, claim.Token); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Release after Complete = %v, want ErrLeaseLost", err)
	}
	res = mustBegin(t, st, k, fp("a"), time.Minute)
	if !bytes.Equal(res.Record.Payload, payload) {
		t.Fatalf("payload changed to %q", res.Record.Payload)
	}
}

func (s suite) release(t *testing.T, st core.Store) {
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	if err := st.Release(context.Background(), k, claim.Token); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := st.Get(context.Background(), k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get after Release = %v, want ErrNotFound", err)
	}
	// A released key is free for any fingerprint.
	again := mustBegin(t, st, k, fp("b"), time.Minute)
	wantOutcome(t, again, core.OutcomeOriginal)
	if again.Token == claim.Token {
		t.Fatal("token reused after release")
	}
}

func (s suite) takeover(t *testing.T, st core.Store) {
	k := key(t)
	old := mustBegin(t, st, k, fp("a"), s.lease)
	time.Sleep(s.lease * 5 / 2)
	// A different payload still mismatches an abandoned claim.
	wantOutcome(t, mustBegin(t, st, k, fp("b"), time.Minute), core.OutcomeMismatch)
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeOriginal)
	if !res.TookOver {
		t.Fatal("takeover not reported")
	}
	if res.Token == old.Token {
		t.Fatal("takeover kept the old token")
	}
	wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeConflict)
}

func (s suite) fencing(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	old := mustBegin(t, st, k, fp("a"), s.lease)
	time.Sleep(s.lease * 5 / 2)
	cur := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, cur, core.OutcomeOriginal)

	if err := st.Renew(ctx, k, old.Token, time.Minute); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale Renew = %v, want ErrLeaseLost", err)
	}
	if err := st.Complete(ctx, k, old.Token, core.StateCompleted, []byte("stale"), ttl); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale Complete = %v, want ErrLeaseLost", err)
	}
	if err := st.Release(ctx, k, old.Token); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale Release = %v, want ErrLeaseLost", err)
	}
	// The stale owner changed nothing: the current owner completes.
	if err := st.Complete(ctx, k, cur.Token, core.StateCompleted, []byte("fresh"), ttl); err != nil {
		t.Fatalf("current Complete: %v", err)
	}
	if err := st.Complete(ctx, k, old.Token, core.StateCompleted, []byte("stale"), ttl); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale Complete after completion = %v, want ErrLeaseLost", err)
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	if string(res.Record.Payload) != "fresh" {
		t.Fatalf("payload = %q, want the current owner's", res.Record.Payload)
	}
}

func (s suite) renew(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), s.lease)
	deadline := time.Now().Add(s.lease * 3)
	for time.Now().Before(deadline) {
		time.Sleep(s.lease / 3)
		if err := st.Renew(ctx, k, claim.Token, s.lease); err != nil {
			t.Fatalf("Renew: %v", err)
		}
	}
	// Three leases have passed; renewal kept it ours.
	wantOutcome(t, mustBegin(t, st, k, fp("a"), s.lease), core.OutcomeConflict)
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("ok"), ttl); err != nil {
		t.Fatalf("Complete after renewals: %v", err)
	}
}

func (s suite) ttlExpiry(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), s.lease)
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("short"), s.lease); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeRepeated)
	time.Sleep(s.lease * 5 / 2)
	if _, err := st.Get(ctx, k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get after TTL = %v, want ErrNotFound", err)
	}
	// Expired: the key is free again, for any fingerprint.
	wantOutcome(t, mustBegin(t, st, k, fp("b"), time.Minute), core.OutcomeOriginal)
}

func (s suite) deleteKey(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("x"), ttl); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := st.Get(ctx, k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	inflight := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, inflight, core.OutcomeOriginal)
	if err := st.Delete(ctx, k); err != nil {
		t.Fatalf("Delete in flight: %v", err)
	}
	if err := st.Complete(ctx, k, inflight.Token, core.StateCompleted, []byte("late"), ttl); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Complete after Delete = %v, want ErrLeaseLost", err)
	}
	if _, err := st.Get(ctx, k); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("a fenced Complete resurrected the record: %v", err)
	}
	if err := st.Delete(ctx, k); err != nil {
		t.Fatalf("Delete of a missing key = %v, want nil", err)
	}
}

func (s suite) getMissing(t *testing.T, st core.Store) {
	if _, err := st.Get(context.Background(), key(t)); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Get = %v, want ErrNotFound", err)
	}
	if err := st.Renew(context.Background(), key(t), 1, time.Minute); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("Renew of a missing key = %v, want ErrLeaseLost", err)
	}
}

func (s suite) tokensUnique(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	seen := map[uint64]bool{}
	for i := 0; i < 20; i++ {
		res := mustBegin(t, st, k, fp("a"), time.Minute)
		wantOutcome(t, res, core.OutcomeOriginal)
		if seen[res.Token] {
			t.Fatalf("token %d issued twice for one key", res.Token)
		}
		seen[res.Token] = true
		if i%2 == 0 {
			if err := st.Release(ctx, k, res.Token); err != nil {
				t.Fatal(err)
			}
		} else if err := st.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

func (s suite) isolation(t *testing.T, st core.Store) {
	ctx := context.Background()
	a, b := key(t)+":a", key(t)+":b"
	ca := mustBegin(t, st, a, fp("a"), time.Minute)
	wantOutcome(t, mustBegin(t, st, b, fp("b"), time.Minute), core.OutcomeOriginal)
	if err := st.Complete(ctx, a, ca.Token, core.StateCompleted, []byte("A"), ttl); err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, mustBegin(t, st, b, fp("b"), time.Minute), core.OutcomeConflict)
	if err := st.Complete(ctx, b, ca.Token, core.StateCompleted, []byte("wrong"), ttl); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("token of key a completed key b: %v", err)
	}
}

func (s suite) awkwardKeys(t *testing.T, st core.Store) {
	ctx := context.Background()
	base := key(t)
	for _, k := range []string{base + "{tag}", base + "}{", base + " spaced key", base + ":ünï©ødé", base + "\x00nul"} {
		claim := mustBegin(t, st, k, fp("a"), time.Minute)
		wantOutcome(t, claim, core.OutcomeOriginal)
		if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte(k), ttl); err != nil {
			t.Fatalf("Complete(%q): %v", k, err)
		}
		res := mustBegin(t, st, k, fp("a"), time.Minute)
		wantOutcome(t, res, core.OutcomeRepeated)
		if string(res.Record.Payload) != k {
			t.Fatalf("key %q replayed %q", k, res.Record.Payload)
		}
	}
}

// concurrentBegin: many goroutines race for one key; exactly one wins.
func (s suite) concurrentBegin(t *testing.T, st core.Store) {
	const n = 200
	k := key(t)
	var claimed, inflight atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl})
			if err != nil {
				errs <- err
				return
			}
			switch res.Outcome {
			case core.OutcomeOriginal:
				claimed.Add(1)
			case core.OutcomeConflict:
				inflight.Add(1)
			default:
				errs <- fmt.Errorf("unexpected outcome %v", res.Outcome)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if claimed.Load() != 1 || inflight.Load() != n-1 {
		t.Fatalf("claimed=%d in-flight=%d, want 1 and %d", claimed.Load(), inflight.Load(), n-1)
	}
}

// concurrentTakeover: many goroutines find one expired claim; one takes it.
func (s suite) concurrentTakeover(t *testing.T, st core.Store) {
	const n = 100
	k := key(t)
	mustBegin(t, st, k, fp("a"), s.lease)
	time.Sleep(s.lease * 5 / 2)
	var claimed atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl})
			if err != nil {
				t.Error(err)
				return
			}
			if res.Outcome == core.OutcomeOriginal {
				claimed.Add(1)
			} else if res.Outcome != core.OutcomeConflict {
				t.Errorf("outcome %v", res.Outcome)
			}
		}()
	}
	close(start)
	wg.Wait()
	if claimed.Load() != 1 {
		t.Fatalf("%d goroutines took over one expired claim, want 1", claimed.Load())
	}
}

// concurrentCycle: goroutines loop Begin until they replay; whoever claims
// completes. Exactly one claim may happen per key.
func (s suite) concurrentCycle(t *testing.T, st core.Store) {
	const n, keys = 50, 5
	base := key(t)
	var claims [keys]atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := fmt.Sprintf("%s:%d", base, i%keys)
			for {
				res, err := st.Begin(context.Background(), k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl})
				if err != nil {
					t.Error(err)
					return
				}
				switch res.Outcome {
				case core.OutcomeOriginal:
					claims[i%keys].Add(1)
					if err := st.Complete(context.Background(), k, res.Token, core.StateCompleted, []byte(k), ttl); err != nil {
						t.Error(err)
					}
				case core.OutcomeRepeated:
					if string(res.Record.Payload) != k {
						t.Errorf("replayed %q for %q", res.Record.Payload, k)
					}
					return
				case core.OutcomeConflict:
					time.Sleep(time.Millisecond)
				default:
					t.Errorf("outcome %v", res.Outcome)
					return
				}
			}
		}(i)
	}
	wg.Wait()
	for i := range claims {
		if c := claims[i].Load(); c != 1 {
			t.Fatalf("key %d claimed %d times, want 1", i, c)
		}
	}
}

func (s suite) cooldowns(t *testing.T, st core.Store) {
	cd, ok := st.(core.Cooldowns)
	if !ok {
		t.Skip("store does not share alert cooldowns")
	}
	ctx := context.Background()
	name := key(t)
	got, err := cd.AcquireCooldown(ctx, name, s.lease)
	if err != nil || !got {
		t.Fatalf("first Acquire = %v, %v; want true", got, err)
	}
	got, err = cd.AcquireCooldown(ctx, name, s.lease)
	if err != nil || got {
		t.Fatalf("second Acquire = %v, %v; want false", got, err)
	}
	if got, _ := cd.AcquireCooldown(ctx, name+":other", s.lease); !got {
		t.Fatal("cooldowns of different names interfere")
	}
	time.Sleep(s.lease * 5 / 2)
	if got, err := cd.AcquireCooldown(ctx, name, s.lease); err != nil || !got {
		t.Fatalf("Acquire after cooldown = %v, %v; want true", got, err)
	}
}

var nonceSeq atomic.Uint64

// nonce returns an attempt nonce unique to this process run, as the
// Engine would (it draws them at random; uniqueness is what matters).
func nonce() uint64 { return nonceSeq.Add(1)<<8 | 0x5a }

func (s suite) resentBegin(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	a := core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl}
	first, err := st.Begin(ctx, k, a)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, first, core.OutcomeOriginal)
	again, err := st.Begin(ctx, k, a)
	if err != nil {
		t.Fatal(err)
	}
	if again.Outcome != core.OutcomeOriginal || again.Token != first.Token {
		t.Fatalf("resent Begin = %v token %d, want the same claim (token %d)", again.Outcome, again.Token, first.Token)
	}
	// Another attempt (another nonce) still sees the claim in flight, and
	// an attempt without a nonce never matches one.
	wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeConflict)
	res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fp("a"), Lease: time.Minute, TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, res, core.OutcomeConflict)
	if err := st.Complete(ctx, k, first.Token, core.StateCompleted, []byte("done"), ttl); err != nil {
		t.Fatalf("Complete with the resent claim's token: %v", err)
	}
	// Once completed, even the owner's own resend replays.
	res, err = st.Begin(ctx, k, a)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, res, core.OutcomeRepeated)

	// A takeover records its own nonce: its resend gets the new claim.
	k2 := key(t)
	mustBegin(t, st, k2, fp("a"), s.lease)
	time.Sleep(s.lease * 5 / 2)
	b := core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl}
	took, err := st.Begin(ctx, k2, b)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcome(t, took, core.OutcomeOriginal)
	again, err = st.Begin(ctx, k2, b)
	if err != nil {
		t.Fatal(err)
	}
	if again.Outcome != core.OutcomeOriginal || again.Token != took.Token {
		t.Fatalf("resent takeover Begin = %v token %d, want token %d", again.Outcome, again.Token, took.Token)
	}
}

func (s suite) resentFinish(t *testing.T, st core.Store) {
	ctx := context.Background()
	k := key(t)
	claim := mustBegin(t, st, k, fp("a"), time.Minute)
	for i := 0; i < 2; i++ {
		if err := st.Complete(ctx, k, claim.Token, core.StateCompleted, []byte(fmt.Sprint("payload", i)), ttl); err != nil {
			t.Fatalf("Complete #%d = %v, want nil", i+1, err)
		}
	}
	res := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	if string(res.Record.Payload) != "payload0" {
		t.Fatalf("payload = %q: a resent Complete overwrote the stored response", res.Record.Payload)
	}

	k = key(t)
	claim = mustBegin(t, st, k, fp("a"), time.Minute)
	for i := 0; i < 2; i++ {
		if err := st.Release(ctx, k, claim.Token); err != nil {
			t.Fatalf("Release #%d = %v, want nil", i+1, err)
		}
	}
	// A release with a stale token must not free another owner's claim.
	cur := mustBegin(t, st, k, fp("a"), time.Minute)
	wantOutcome(t, cur, core.OutcomeOriginal)
	if err := st.Release(ctx, k, claim.Token); !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("stale Release = %v, want ErrLeaseLost", err)
	}
	wantOutcome(t, mustBegin(t, st, k, fp("a"), time.Minute), core.OutcomeConflict)
}

// everyCallTwice runs a whole life cycle with every call sent twice and
// the first reply dropped, as a client library that resends after a read
// timeout does: nothing may conflict with itself.
func (s suite) everyCallTwice(t *testing.T, st core.Store) {
	ctx := context.Background()
	tw := Twice(st)
	k := key(t)
	claim := mustBegin(t, tw, k, fp("a"), time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := tw.Renew(ctx, k, claim.Token, time.Minute); err != nil {
		t.Fatalf("Renew sent twice: %v", err)
	}
	if err := tw.Complete(ctx, k, claim.Token, core.StateCompleted, []byte("once"), ttl); err != nil {
		t.Fatalf("Complete sent twice: %v", err)
	}
	res := mustBegin(t, tw, k, fp("a"), time.Minute)
	wantOutcome(t, res, core.OutcomeRepeated)
	if string(res.Record.Payload) != "once" {
		t.Fatalf("payload = %q", res.Record.Payload)
	}

	k = key(t)
	claim = mustBegin(t, tw, k, fp("a"), time.Minute)
	wantOutcome(t, claim, core.OutcomeOriginal)
	if err := tw.Release(ctx, k, claim.Token); err != nil {
		t.Fatalf("Release sent twice: %v", err)
	}
	wantOutcome(t, mustBegin(t, tw, k, fp("b"), time.Minute), core.OutcomeOriginal)
}

// concurrentTwice: many goroutines race for one key through a store that
// runs every call twice; exactly one claims, none sees its own claim as
// someone else's, and the winner completes.
func (s suite) concurrentTwice(t *testing.T, st core.Store) {
	const n = 50
	tw := Twice(st)
	k := key(t)
	var claimed atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := tw.Begin(context.Background(), k, core.Attempt{Fingerprint: fp("a"), Nonce: nonce(), Lease: time.Minute, TTL: ttl})
			if err != nil {
				errs <- err
				return
			}
			if res.Outcome == core.OutcomeOriginal {
				claimed.Add(1)
				if err := tw.Complete(context.Background(), k, res.Token, core.StateCompleted, []byte("x"), ttl); err != nil {
					errs <- fmt.Errorf("winner's Complete: %w", err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := claimed.Load(); got != 1 {
		t.Fatalf("%d goroutines claimed the key, want 1", got)
	}
}

func (s suite) batchRenew(t *testing.T, st core.Store) {
	br, ok := st.(core.BatchRenewer)
	if !ok {
		t.Skip("store renews one claim at a time (no core.BatchRenewer)")
	}
	ctx := context.Background()
	var rs []core.Renewal
	for i := 0; i < 40; i++ {
		k := key(t)
		c := mustBegin(t, st, k, fp("a"), s.lease)
		rs = append(rs, core.Renewal{Key: k, Token: c.Token})
	}
	stale := rs[len(rs)-1]
	stale.Token++ // never issued for that key by this store
	rs = append(rs, stale, core.Renewal{Key: key(t), Token: 7})
	deadline := time.Now().Add(s.lease * 3)
	for time.Now().Before(deadline) {
		time.Sleep(s.lease / 3)
		br.RenewBatch(ctx, time.Minute, rs)
		for i, r := range rs[:40] {
			if r.Err != nil {
				t.Fatalf("renewal %d: %v", i, r.Err)
			}
		}
		for i, r := range rs[40:] {
			if !errors.Is(r.Err, core.ErrLeaseLost) {
				t.Fatalf("foreign renewal %d = %v, want ErrLeaseLost", i, r.Err)
			}
		}
	}
	for _, r := range rs[:40] {
		wantOutcome(t, mustBegin(t, st, r.Key, fp("a"), time.Minute), core.OutcomeConflict)
		if err := st.Complete(ctx, r.Key, r.Token, core.StateCompleted, []byte("ok"), ttl); err != nil {
			t.Fatalf("Complete after batch renewals: %v", err)
		}
	}
}
