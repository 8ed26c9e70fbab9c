package core_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

var (
	keyA = core.RecordKey{ID: "a", Secret: bytes.Repeat([]byte{1}, 32)}
	keyB = core.RecordKey{ID: "b", Secret: bytes.Repeat([]byte{2}, 32)}
)

// counter is a Do function that counts its runs and answers body.
func counter(body string) (func(context.Context) ([]byte, error), *atomic.Int32) {
	var n atomic.Int32
	return func(context.Context) ([]byte, error) { n.Add(1); return []byte(body), nil }, &n
}

func wantRejected(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, core.ErrRecordRejected) || !errors.Is(err, core.ErrCorruptRecord) {
		t.Fatalf("err = %v, want ErrRecordRejected (and ErrCorruptRecord)", err)
	}
}

func TestSignedRecordsRoundTrip(t *testing.T) {
	for _, enc := range []bool{false, true} {
		opts := []core.Option{core.WithRecordKeys(keyA)}
		if enc {
			opts = append(opts, core.WithRecordEncryption())
		}
		st := memory.New()
		e := newEngine(t, append(opts, core.WithStore(st))...)
		fn, runs := counter("pay_1 secret-card-holder")
		ctx := context.Background()
		for i := range 3 {
			out, replayed, err := e.Do(ctx, "s", "k", core.Fingerprint{7}, fn)
			if err != nil || string(out) != "pay_1 secret-card-holder" || replayed != (i > 0) {
				t.Fatalf("encrypt=%v Do %d = %q, %v, %v", enc, i, out, replayed, err)
			}
		}
		if runs.Load() != 1 {
			t.Fatalf("ran %d times", runs.Load())
		}
		rec, err := st.Get(ctx, core.StoreKey("s", "k"))
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Contains(rec.Payload, []byte("secret-card-holder")); got == enc {
			t.Fatalf("encrypt=%v: the stored payload contains the body in clear: %v", enc, got)
		}
		in, err := e.Inspect(ctx, "s", "k")
		if err != nil || in.Response == nil || string(in.Response.Body) != "pay_1 secret-card-holder" {
			t.Fatalf("Inspect = %+v, %v", in, err)
		}
	}
}

// Anything that can write to the store, but holds no key of the ring,
// cannot make the Engine replay its bytes, nor honour its claims.
func TestForgedRecordsAreRejected(t *testing.T) {
	ctx := context.Background()
	for name, forger := range map[string][]core.Option{
		"unsigned":             nil,
		"another key":          {core.WithRecordKeys(keyB)},
		"another key, same id": {core.WithRecordKeys(core.RecordKey{ID: "a", Secret: bytes.Repeat([]byte{3}, 32)})},
		"encrypted, other key": {core.WithRecordKeys(keyB), core.WithRecordEncryption()},
	} {
		t.Run(name, func(t *testing.T) {
			st := memory.New()
			evil := newEngine(t, append(forger, core.WithStore(st))...)
			e := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA))
			fn, runs := counter("genuine")

			// A forged completed record.
			if _, _, err := evil.Do(ctx, "s", "done", core.Fingerprint{1}, func(context.Context) ([]byte, error) { return []byte("attacker's bytes"), nil }); err != nil {
				t.Fatal(err)
			}
			_, _, err := e.Do(ctx, "s", "done", core.Fingerprint{1}, fn)
			wantRejected(t, err)

			// A forged tombstone and a forged uncertain record.
			_, _, _ = evil.Do(ctx, "s", "unc", core.Fingerprint{1}, func(ctx context.Context) ([]byte, error) {
				_ = core.DeclareEffects(ctx)
				return nil, errors.New("fail")
			})
			_, _, err = e.Do(ctx, "s", "unc", core.Fingerprint{1}, fn)
			wantRejected(t, err)

			// A forged claim, held while the signed engine asks.
			hold, release := make(chan struct{}), make(chan struct{})
			go func() {
				_, _, _ = evil.Do(ctx, "s", "busy", core.Fingerprint{1}, func(context.Context) ([]byte, error) {
					close(hold)
					<-release
					return nil, nil
				})
			}()
			<-hold
			_, _, err = e.Do(ctx, "s", "busy", core.Fingerprint{1}, fn)
			close(release)
			wantRejected(t, err)

			// Even failing open, a record that does not verify is not absent.
			open := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA), core.WithFailOpen(true))
			_, _, err = open.Do(ctx, "s", "done", core.Fingerprint{1}, fn)
			wantRejected(t, err)
			if runs.Load() != 0 {
				t.Fatalf("the handler ran %d times behind forged records", runs.Load())
			}
		})
	}
}

// tamperingStore changes what Begin reads, as a writer with access to
// the store would: records copied from another key, or bytes changed.
type tamperingStore struct {
	core.Store
	from, to string                 // Begin(to) reads from's record
	mutate   func(rec *core.Record) // applied to what Begin returns
}

func (s *tamperingStore) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	if key == s.to {
		key = s.from
	}
	res, err := s.Store.Begin(ctx, key, a)
	if err == nil && s.mutate != nil {
		s.mutate(&res.Record)
	}
	return res, err
}

func TestTransplantedAndTamperedRecordsAreRejected(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	signer := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA))
	fn, _ := counter("genuine")
	for _, k := range []string{"k1", "k2"} {
		if _, _, err := signer.Do(ctx, "s", k, core.Fingerprint{1}, fn); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := st.Get(ctx, core.StoreKey("s", "k1"))
	if err != nil {
		t.Fatal(err)
	}

	// k1's genuine record copied over k3 (same fingerprint, same scope).
	tr := &tamperingStore{Store: st, from: core.StoreKey("s", "k1"), to: core.StoreKey("s", "k3")}
	e := newEngine(t, core.WithStore(tr), core.WithRecordKeys(keyA))
	fresh, runs := counter("fresh")
	_, _, err = e.Do(ctx, "s", "k3", core.Fingerprint{1}, fresh)
	wantRejected(t, err)

	// Every single byte of the genuine record changed, one at a time.
	for i := range len(stored.Payload) {
		tm := &tamperingStore{Store: st, mutate: func(rec *core.Record) {
			p := append([]byte(nil), rec.Payload...)
			p[i] ^= 0x20
			rec.Payload = p
		}}
		e := newEngine(t, core.WithStore(tm), core.WithRecordKeys(keyA))
		out, _, err := e.Do(ctx, "s", "k1", core.Fingerprint{1}, fresh)
		if err == nil || out != nil {
			t.Fatalf("byte %d changed: Do = %q, %v: replayed a tampered record", i, out, err)
		}
	}
	// The state and the fingerprint are covered too.
	for name, mutate := range map[string]func(*core.Record){
		"state":       func(r *core.Record) { r.State = core.StateTombstone },
		"fingerprint": func(r *core.Record) { r.Fingerprint[0] ^= 1 },
	} {
		e := newEngine(t, core.WithStore(&tamperingStore{Store: st, mutate: mutate}), core.WithRecordKeys(keyA))
		_, _, err := e.Do(ctx, "s", "k1", core.Fingerprint{1}, fresh)
		if err == nil {
			t.Fatalf("%s changed: accepted", name)
		}
	}
	if runs.Load() != 0 {
		t.Fatalf("ran %d times", runs.Load())
	}
}

func TestSignedClaimLeaseIsBounded(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA), core.WithLockWait(0))
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		_, _, _ = e.Do(ctx, "s", "k", core.Fingerprint{1}, func(context.Context) ([]byte, error) {
			close(hold)
			<-release
			return nil, nil
		})
	}()
	<-hold
	defer close(release)
	fn, _ := counter("x")
	// A genuine claim: the duplicate is told it is in flight.
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{1}, fn); !errors.Is(err, core.ErrInFlight) {
		t.Fatalf("duplicate of a signed claim = %v, want ErrInFlight", err)
	}
	// The same claim with its lease pushed a year ahead.
	far := &tamperingStore{Store: st, mutate: func(r *core.Record) { r.LeaseUntil = time.Now().Add(365 * 24 * time.Hour) }}
	e2 := newEngine(t, core.WithStore(far), core.WithRecordKeys(keyA), core.WithLockWait(0))
	_, _, err := e2.Do(ctx, "s", "k", core.Fingerprint{1}, fn)
	wantRejected(t, err)
	// The same claim with a lease end the store could not read (Redis:
	// "1e20", which its script reads as a number and Go does not).
	none := &tamperingStore{Store: st, mutate: func(r *core.Record) { r.LeaseUntil = time.Time{} }}
	e3 := newEngine(t, core.WithStore(none), core.WithRecordKeys(keyA), core.WithLockWait(0))
	_, _, err = e3.Do(ctx, "s", "k", core.Fingerprint{1}, fn)
	wantRejected(t, err)
}

func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	old := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA))
	fn, runs := counter("v1")
	if _, _, err := old.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	// Step 1 and 2: the new key listed, then first; the old one verifies.
	for _, ring := range [][]core.RecordKey{{keyA, keyB}, {keyB, keyA}} {
		e := newEngine(t, core.WithStore(st), core.WithRecordKeys(ring...))
		if out, replayed, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil || !replayed || string(out) != "v1" {
			t.Fatalf("ring %s,%s: %q %v %v", ring[0].ID, ring[1].ID, out, replayed, err)
		}
	}
	// Step 3: the old key dropped: what it signed no longer verifies.
	e := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyB))
	_, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn)
	wantRejected(t, err)
	if runs.Load() != 1 {
		t.Fatalf("ran %d times", runs.Load())
	}
}

func TestSignedStrandedAndResolvedRecords(t *testing.T) {
	ctx := context.Background()
	killed := coretest.NewKilledAfterCommit(memory.New())
	const lease = 150 * time.Millisecond
	e := newEngine(t, core.WithStore(killed), core.WithRecordKeys(keyA), core.WithLease(lease), core.WithLockWait(0))
	fn := func(ctx context.Context) ([]byte, error) { return []byte("ok"), core.DeclareEffects(ctx) }
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease + 100*time.Millisecond)
	// The store stranded the signed claim and wrote its own reason: the
	// commitment's signature (written by Commit) vouches for it.
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); !errors.Is(err, core.ErrUncertain) {
		t.Fatalf("after the owner died = %v, want ErrUncertain", err)
	}
	if err := e.Resolve(ctx, "s", "k", &core.Response{Status: 201, Body: []byte("resolved")}); err != nil {
		t.Fatal(err)
	}
	if out, replayed, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil || !replayed || string(out) != "resolved" {
		t.Fatalf("after Resolve = %q, %v, %v", out, replayed, err)
	}
}

// tamperStranded rewrites the CommitSig of every stranded record the
// store answers with (Begin and Get).
type tamperStranded struct {
	core.Store
	commitSig func(rec core.Record) []byte
}

func (s tamperStranded) fix(rec *core.Record) {
	if rec.State == core.StateUncertain {
		rec.CommitSig = s.commitSig(*rec)
	}
}

func (s tamperStranded) Begin(ctx context.Context, key string, a core.Attempt) (core.BeginResult, error) {
	res, err := s.Store.Begin(ctx, key, a)
	s.fix(&res.Record)
	return res, err
}

func (s tamperStranded) Get(ctx context.Context, key string) (core.Record, error) {
	rec, err := s.Store.Get(ctx, key)
	s.fix(&rec)
	return rec, err
}

// A stranded record is vouched for by the commitment's signature alone:
// without it, with the claim's signature in its place (the marker of a
// claim), or with a claim signature relabelled as a commitment's, it is
// rejected, and so is one signed for another key.
func TestStrandedRecordNeedsTheCommitSignature(t *testing.T) {
	for name, commitSig := range map[string]func(core.Record) []byte{
		"genuine":               func(rec core.Record) []byte { return rec.CommitSig },
		"none":                  func(core.Record) []byte { return nil },
		"the claim's signature": func(rec core.Record) []byte { return rec.Sig },
		"the claim's signature relabelled": func(rec core.Record) []byte {
			sig := bytes.Clone(rec.Sig)
			if len(sig) > 0 {
				sig[0] = rec.CommitSig[0]
			}
			return sig
		},
		"truncated": func(rec core.Record) []byte { return rec.CommitSig[:len(rec.CommitSig)-1] },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := memory.New()
			killed := coretest.NewKilledAfterCommit(tamperStranded{Store: st, commitSig: commitSig})
			const lease = 100 * time.Millisecond
			e := newEngine(t, core.WithStore(killed), core.WithRecordKeys(keyA), core.WithLease(lease), core.WithLockWait(0))
			fn := func(ctx context.Context) ([]byte, error) { return []byte("ok"), core.DeclareEffects(ctx) }
			if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
				t.Fatal(err)
			}
			rec, err := st.Get(ctx, core.StoreKey("s", "k"))
			if err != nil || len(rec.CommitSig) == 0 || bytes.Equal(rec.CommitSig, rec.Sig) {
				t.Fatalf("committed claim: CommitSig %q, Sig %q, %v", rec.CommitSig, rec.Sig, err)
			}
			time.Sleep(lease + 100*time.Millisecond)
			_, _, err = e.Do(ctx, "s", "k", core.Fingerprint{}, fn)
			if name == "genuine" {
				if !errors.Is(err, core.ErrUncertain) {
					t.Fatalf("Do = %v, want ErrUncertain", err)
				}
				return
			}
			wantRejected(t, err)
		})
	}
}

// A commitment signed for one key does not vouch for a stranded record
// of another.
func TestCommitSignatureOfAnotherKeyIsRejected(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	var other []byte
	killed := coretest.NewKilledAfterCommit(tamperStranded{Store: st, commitSig: func(rec core.Record) []byte {
		if other != nil {
			return other
		}
		return rec.CommitSig
	}})
	const lease = 100 * time.Millisecond
	e := newEngine(t, core.WithStore(killed), core.WithRecordKeys(keyA), core.WithLease(lease), core.WithLockWait(0))
	fn := func(ctx context.Context) ([]byte, error) { return []byte("ok"), core.DeclareEffects(ctx) }
	for _, k := range []string{"k1", "k2"} {
		if _, _, err := e.Do(ctx, "s", k, core.Fingerprint{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := st.Get(ctx, core.StoreKey("s", "k1"))
	if err != nil || len(rec.CommitSig) == 0 {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	other = rec.CommitSig
	time.Sleep(lease + 100*time.Millisecond)
	_, _, err = e.Do(ctx, "s", "k2", core.Fingerprint{}, fn)
	wantRejected(t, err)
}

func TestRecordKeyOptions(t *testing.T) {
	for name, opts := range map[string][]core.Option{
		"short secret":        {core.WithRecordKeys(core.RecordKey{ID: "a", Secret: []byte("short")})},
		"no id":               {core.WithRecordKeys(core.RecordKey{Secret: keyA.Secret})},
		"duplicate id":        {core.WithRecordKeys(keyA, keyA)},
		"encryption, no keys": {core.WithRecordEncryption()},
		"none":                {core.WithRecordKeys()},
	} {
		if _, err := core.New(append(opts, core.WithStore(memory.New()))...); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: New = %v, want ErrInvalidOption", name, err)
		}
	}
	secret := strings.Repeat("ab", 32)
	keys, err := core.ParseRecordKeys("new:" + secret + ", old:" + "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
	if err != nil || len(keys) != 2 || keys[0].ID != "new" || keys[1].ID != "old" || len(keys[0].Secret) != 32 {
		t.Fatalf("ParseRecordKeys = %+v, %v", keys, err)
	}
	if keys, err := core.ParseRecordKeys(secret); err != nil || keys[0].ID != "k1" {
		t.Fatalf("a bare secret = %+v, %v", keys, err)
	}
	for _, bad := range []string{"", "a:zz", "a:" + strings.Repeat("ab", 8), "a:" + secret + ",b", "a b:" + secret} {
		if _, err := core.ParseRecordKeys(bad); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("ParseRecordKeys(%q) = %v", bad, err)
		}
	}
}

func TestSealInfo(t *testing.T) {
	st := memory.New()
	e := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyB, keyA), core.WithRecordEncryption())
	fn, _ := counter("x")
	if _, _, err := e.Do(context.Background(), "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	rec, err := st.Get(context.Background(), core.StoreKey("s", "k"))
	if err != nil {
		t.Fatal(err)
	}
	if id, enc, ok := core.SealInfo(rec.Payload); id != "b" || !enc || !ok {
		t.Fatalf("SealInfo = %q, %v, %v; want b, encrypted, sealed", id, enc, ok)
	}
	if _, _, ok := core.SealInfo([]byte("\x01plain")); ok {
		t.Fatal("a plain payload reported sealed")
	}
}

// Turning encryption on keeps the records stored signed in clear.
func TestEncryptionTurnedOnReadsSignedRecords(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	fn, runs := counter("v1")
	if _, _, err := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA)).Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	enc := newEngine(t, core.WithStore(st), core.WithRecordKeys(keyA), core.WithRecordEncryption())
	if out, replayed, err := enc.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil || !replayed || string(out) != "v1" || runs.Load() != 1 {
		t.Fatalf("after encryption was turned on: %q %v %v, ran %d", out, replayed, err, runs.Load())
	}
}
