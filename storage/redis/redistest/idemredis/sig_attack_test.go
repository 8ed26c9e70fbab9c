package idemredis_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Attacks by a writer to the shared Redis who holds no key of the ring,
// against an Engine that signs its records. The attacker changes single
// hash fields of genuine records; deleting a record is out of scope.

var attackKey = core.RecordKey{ID: "k1", Secret: bytes.Repeat([]byte{9}, 32)}

func signedEngine(t *testing.T, e *statesEnv, opts ...core.Option) *core.Engine {
	t.Helper()
	eng, err := core.New(append([]core.Option{core.WithStore(e.st), core.WithKeyValidator(core.Token()),
		core.WithRecordKeys(attackKey), core.WithLockWait(0)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = eng.Close(ctx) // completions retried against a record made unusable are dropped
	})
	return eng
}

// holdClaim runs a Do that claims key and blocks until the test ends.
func holdClaim(t *testing.T, eng *core.Engine, key string, fp core.Fingerprint) {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = eng.Do(context.Background(), "s", key, fp, func(context.Context) ([]byte, error) {
			close(held)
			<-release
			return []byte("genuine"), nil
		})
	}()
	<-held
	t.Cleanup(func() { close(release); <-done })
}

// A genuine claim whose lease field is rewritten in a form Lua's
// tonumber reads (and Go's ParseInt does not) must not escape the bound on
// how far ahead a claim's lease may end: it would hold the key with 409s
// for as long as the record lives.
func TestAttackLeaseInExponentForm(t *testing.T) {
	for _, l := range []string{"1e20", "0x7fffffffffffffff", " 99999999999999999 ", "9.9e15"} {
		e := newStatesEnv(t)
		eng := signedEngine(t, e)
		k := e.key()
		holdClaim(t, eng, k, fpA)
		ctx := context.Background()
		rk := e.st.RecordKey(core.StoreKey("s", k))
		if err := e.rdb.HSet(ctx, rk, "l", l).Err(); err != nil {
			t.Fatal(err)
		}
		_, _, err := eng.Do(ctx, "s", k, fpA, func(context.Context) ([]byte, error) { return nil, nil })
		if !errors.Is(err, core.ErrRecordRejected) {
			t.Fatalf("l = %q: Do = %v, want ErrRecordRejected (a claim held beyond the lease bound)", l, err)
		}
	}
}

// A genuine claim whose lease or token field holds something the Begin
// script cannot compute with must fail closed like any other record that
// cannot be trusted, not as a store outage: under fail-open an outage runs
// the handler, for every request with the key, while the genuine claim
// still holds it.
func TestAttackMalformedClaimFailsClosed(t *testing.T) {
	for name, fields := range map[string][]any{
		"lease not a number": {"l", "x"},
		"lease absent":       {"l", nil},
		"token not a number": {"l", "0", "t", "x"},
		"token absent":       {"l", "0", "t", nil},
		"record not a hash":  nil,
	} {
		t.Run(name, func(t *testing.T) {
			e := newStatesEnv(t)
			eng := signedEngine(t, e, core.WithFailOpen(true))
			k := e.key()
			holdClaim(t, eng, k, fpA)
			ctx := context.Background()
			rk := e.st.RecordKey(core.StoreKey("s", k))
			switch {
			case fields == nil:
				if err := e.rdb.Set(ctx, rk, "x", time.Hour).Err(); err != nil {
					t.Fatal(err)
				}
			default:
				for i := 0; i < len(fields); i += 2 {
					var err error
					if fields[i+1] == nil {
						err = e.rdb.HDel(ctx, rk, fields[i].(string)).Err()
					} else {
						err = e.rdb.HSet(ctx, rk, fields[i], fields[i+1]).Err()
					}
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			var runs atomic.Int32
			_, _, err := eng.Do(ctx, "s", k, fpA, func(context.Context) ([]byte, error) { runs.Add(1); return nil, nil })
			if runs.Load() != 0 {
				t.Fatalf("the handler ran (fail open) while a genuine claim holds the key: Do err = %v", err)
			}
			if !errors.Is(err, core.ErrCorruptRecord) {
				t.Fatalf("Do = %v, want ErrCorruptRecord", err)
			}
		})
	}
}

// Engine.Resolve seals the operator's response for the fingerprint of the
// record it reads. A writer who changed that fingerprint beforehand must
// not get the response sealed for a request of its choosing (which would
// then replay it, while the original request's retries get 422).
func TestAttackResolveSealsForgedFingerprint(t *testing.T) {
	e := newStatesEnv(t)
	eng := signedEngine(t, e)
	ctx := context.Background()
	k := e.key()
	// A genuine uncertain record: effects declared, then a failure.
	_, _, err := eng.Do(ctx, "s", k, fpA, func(ctx context.Context) ([]byte, error) {
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err
		}
		return nil, errors.New("provider timed out")
	})
	if err == nil {
		t.Fatal("Do succeeded")
	}
	if _, _, err := eng.Do(ctx, "s", k, fpA, nil); !errors.Is(err, core.ErrUncertain) {
		t.Fatalf("Do = %v, want ErrUncertain", err)
	}
	rk := e.st.RecordKey(core.StoreKey("s", k))
	if err := e.rdb.HSet(ctx, rk, "f", string(fpB[:])).Err(); err != nil {
		t.Fatal(err)
	}
	err = eng.Resolve(ctx, "s", k, &core.Response{Status: 201, Body: []byte("charged")})
	if !errors.Is(err, core.ErrRecordRejected) {
		t.Errorf("Resolve of a record whose fingerprint was changed = %v, want ErrRecordRejected", err)
	}
	out, replayed, err := eng.Do(ctx, "s", k, fpB, func(context.Context) ([]byte, error) { return []byte("ran"), nil })
	if replayed {
		t.Fatalf("the attacker's request (fingerprint B) got the response resolved for A replayed: %q", out)
	}
	_ = err
}

// The claim signature covers the store key and fingerprint only, and a
// completed record keeps the g field. A writer who turns such a record
// (or a live claim) into a stranded uncertain record (c "2", a plain
// reason) must not get it vouched for by the claim's signature: 423 for
// as long as it sets the record's TTL, on a route whose handler never
// declared effects. Only the commitment's signature (field h, written by
// Commit) vouches for a stranded record.
func TestAttackClaimSignatureMadeUncertain(t *testing.T) {
	for name, forge := range map[string][]any{
		"stranded":                  {"s", "4", "c", "2", "p", "forged reason"},
		"stranded, g copied into h": nil, // filled in below
	} {
		t.Run(name, func(t *testing.T) {
			e := newStatesEnv(t)
			eng := signedEngine(t, e)
			ctx := context.Background()
			k := e.key()
			var runs atomic.Int32
			fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("ok"), nil } // never declares effects
			if _, _, err := eng.Do(ctx, "s", k, fpA, fn); err != nil {
				t.Fatal(err)
			}
			rk := e.st.RecordKey(core.StoreKey("s", k))
			if forge == nil {
				g, err := e.rdb.HGet(ctx, rk, "g").Result()
				if err != nil || g == "" {
					t.Fatalf("g = %q, %v", g, err)
				}
				forge = []any{"s", "4", "c", "2", "p", "forged reason", "h", g}
			}
			if err := e.rdb.HSet(ctx, rk, forge...).Err(); err != nil {
				t.Fatal(err)
			}
			_, _, err := eng.Do(ctx, "s", k, fpA, fn)
			if errors.Is(err, core.ErrUncertain) {
				t.Fatalf("a claim signature vouched for a forged stranded record: Do = %v", err)
			}
			if !errors.Is(err, core.ErrRecordRejected) {
				t.Fatalf("Do = %v, want ErrRecordRejected", err)
			}
			if runs.Load() != 1 {
				t.Fatalf("the handler ran %d times, want 1", runs.Load())
			}
		})
	}
}

// A live claim that never declared effects, turned into a stranded
// record by a writer, is refused too (the live-claim variant).
func TestAttackLiveClaimMadeUncertain(t *testing.T) {
	e := newStatesEnv(t)
	eng := signedEngine(t, e)
	ctx := context.Background()
	k := e.key()
	holdClaim(t, eng, k, fpA)
	rk := e.st.RecordKey(core.StoreKey("s", k))
	if err := e.rdb.HSet(ctx, rk, "s", "4", "c", "2", "l", "0", "p", "forged reason").Err(); err != nil {
		t.Fatal(err)
	}
	_, _, err := eng.Do(ctx, "s", k, fpA, func(context.Context) ([]byte, error) { return nil, nil })
	if !errors.Is(err, core.ErrRecordRejected) {
		t.Fatalf("Do = %v, want ErrRecordRejected", err)
	}
}
