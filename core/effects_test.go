package core_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestDeclareEffectsOutsideAClaim(t *testing.T) {
	if err := core.DeclareEffects(context.Background()); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("DeclareEffects without a claim = %v, want ErrNoClaim", err)
	}
	if _, err := core.DerivedKey(context.Background(), "psp"); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("DerivedKey without a claim = %v, want ErrNoClaim", err)
	}
	// Something else stored under the claim's key (a framework's context
	// holding a foreign value) is no claim.
	if err := core.DeclareEffects(foreignClaim{context.Background()}); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("DeclareEffects = %v, want ErrNoClaim", err)
	}
}

type foreignClaim struct{ context.Context }

func (f foreignClaim) Value(key any) any {
	if key == core.ClaimContextKey {
		return "not a claim"
	}
	return f.Context.Value(key)
}

func TestDoUncertainAfterDeclaredEffects(t *testing.T) {
	rec := &coretest.Recorder{}
	e := newEngine(t, core.WithTelemetry(rec))
	ctx := context.Background()
	boom := errors.New("provider timeout")
	var runs atomic.Int32
	fn := func(ctx context.Context) ([]byte, error) {
		runs.Add(1)
		if err := core.DeclareEffects(ctx); err != nil {
			return nil, err
		}
		if err := core.DeclareEffects(ctx); err != nil { // again: free, nil
			return nil, err
		}
		return nil, boom
	}
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); !errors.Is(err, boom) {
		t.Fatalf("first Do = %v, want the function's error", err)
	}
	for range 3 {
		if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); !errors.Is(err, core.ErrUncertain) {
			t.Fatalf("retry = %v, want ErrUncertain", err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want once", runs.Load())
	}
	if n := len(rec.Events(core.EventOperationUncertain)); n != 1 {
		t.Fatalf("OPERATION_UNCERTAIN fired %d times, want once", n)
	}
	in, err := e.Inspect(ctx, "s", "k")
	if err != nil || in.State != core.StateUncertain || in.Reason == "" {
		t.Fatalf("Inspect = %+v, %v: want uncertain with a reason", in, err)
	}

	// Resolved with a result: replayed from then on.
	if err := e.Resolve(ctx, "s", "k", &core.Response{Status: 200, Body: []byte("charged")}); err != nil {
		t.Fatal(err)
	}
	out, replayed, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn)
	if err != nil || !replayed || string(out) != "charged" {
		t.Fatalf("after Resolve = %q, %v, %v", out, replayed, err)
	}
	if err := e.Resolve(ctx, "s", "k", nil); !errors.Is(err, core.ErrNotResolvable) {
		t.Fatalf("Resolve of a completed key = %v, want ErrNotResolvable", err)
	}
	if err := e.Resolve(ctx, "s", "nothing", nil); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Resolve of an absent key = %v, want ErrNotFound", err)
	}
}

func TestDoPanicAfterEffectsIsUncertainAndReleaseRuns(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_, _, _ = e.Do(ctx, "s", "p", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
			if err := core.DeclareEffects(ctx); err != nil {
				t.Error(err)
			}
			panic("after the charge")
		})
	}()
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("ok"), nil }
	if _, _, err := e.Do(ctx, "s", "p", core.Fingerprint{}, fn); !errors.Is(err, core.ErrUncertain) {
		t.Fatalf("after panic = %v, want ErrUncertain", err)
	}
	if err := e.Resolve(ctx, "s", "p", nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		out, replayed, err := e.Do(ctx, "s", "p", core.Fingerprint{}, fn)
		if err != nil || replayed != (i == 1) || string(out) != "ok" {
			t.Fatalf("Do %d after release = %q, %v, %v", i, out, replayed, err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times after the release, want once", runs.Load())
	}
}

func TestDoDeadOwnerAfterEffectsIsUncertain(t *testing.T) {
	killed := coretest.NewKilledAfterCommit(memory.New())
	const lease = 200 * time.Millisecond
	e, err := core.New(core.WithStore(killed), core.WithKeyValidator(core.Token()), core.WithLease(lease), core.WithLockWait(0))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var runs atomic.Int32
	fn := func(ctx context.Context) ([]byte, error) {
		runs.Add(1)
		return []byte("ok"), core.DeclareEffects(ctx)
	}
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(lease + 100*time.Millisecond)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); !errors.Is(err, core.ErrUncertain) {
				t.Errorf("Do after the owner died = %v, want ErrUncertain", err)
			}
		})
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want once", runs.Load())
	}
}

func TestDoResultTooLargeForStoreLeavesTombstone(t *testing.T) {
	rec := &coretest.Recorder{}
	st := memory.New(memory.WithMaxBytes(32 << 10))
	e := newEngine(t, core.WithStore(st), core.WithTelemetry(rec))
	ctx := context.Background()
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return make([]byte, 64<<10), nil }
	if _, _, err := e.Do(ctx, "s", "big", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Do(ctx, "s", "big", core.Fingerprint{}, fn); !errors.Is(err, core.ErrResultUnavailable) {
		t.Fatalf("retry = %v, want ErrResultUnavailable", err)
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want once", runs.Load())
	}
	if len(rec.Events(core.EventResultUnavailable)) != 1 {
		t.Fatal("RESULT_UNAVAILABLE did not fire")
	}
}

func TestDeclareEffectsAfterTheHandlerReturned(t *testing.T) {
	e := newEngine(t)
	var kept context.Context
	if _, _, err := e.Do(context.Background(), "s", "k", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		kept = ctx
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := core.DeclareEffects(kept); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("DeclareEffects after the claim ended = %v, want ErrNoClaim", err)
	}
}

func TestDeclareEffectsRefusedWhenLeaseLostOrStoreDown(t *testing.T) {
	fs := &coretest.FlakyStore{Store: memory.New()}
	e := newEngine(t, core.WithStore(fs))
	ctx := context.Background()
	_, _, err := e.Do(ctx, "s", "down", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		fs.SetDown(true)
		defer fs.SetDown(false)
		return nil, core.DeclareEffects(ctx)
	})
	if !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("DeclareEffects with the store down = %v, want ErrStoreUnavailable", err)
	}
	_, _, err = e.Do(ctx, "s", "lost", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		if err := e.Flush(ctx, "s", "lost"); err != nil { // an operator flushed the claim
			t.Error(err)
		}
		return nil, core.DeclareEffects(ctx)
	})
	if !errors.Is(err, core.ErrLeaseLost) {
		t.Fatalf("DeclareEffects after the claim was flushed = %v, want ErrLeaseLost", err)
	}
}

func TestDerivedKey(t *testing.T) {
	e := newEngine(t, core.WithDerivedKeySecret(secret))
	other := newEngine(t, core.WithDerivedKeySecret([]byte("another secret, 32 bytes long...")))
	derive := func(e *core.Engine, scope, key, name string) string {
		var k string
		_, _, err := e.Do(context.Background(), scope, key, core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
			var err error
			k, err = core.DerivedKey(ctx, name)
			return nil, errors.Join(err, errors.New("fail, so that the next Do runs again"))
		})
		if err == nil {
			t.Fatal("want the function's error")
		}
		return k
	}
	a := derive(e, "s", "k", "psp")
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(a) {
		t.Fatalf("derived key %q is not a version 8 UUID", a)
	}
	if b := derive(e, "s", "k", "psp"); b != a {
		t.Fatalf("a re-run derived %q, then %q", a, b)
	}
	for _, d := range []string{derive(e, "s", "k", "ledger"), derive(e, "s", "k2", "psp"), derive(e, "s2", "k", "psp"), derive(other, "s", "k", "psp")} {
		if d == a {
			t.Fatalf("another name, key, scope or secret derived the same key %q", a)
		}
	}
	// Length prefixes: moving a byte between scope, key and name changes the key.
	if derive(e, "s", "kp", "sp") == derive(e, "s", "k", "psp") {
		t.Fatal("ambiguous derivation")
	}

	noSecret := newEngine(t)
	_, _, _ = noSecret.Do(context.Background(), "s", "k", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		if _, err := core.DerivedKey(ctx, "psp"); !errors.Is(err, core.ErrNoDerivedKeySecret) {
			t.Errorf("DerivedKey without a secret = %v, want ErrNoDerivedKeySecret", err)
		}
		return nil, nil
	})
	if _, err := core.New(core.WithStore(memory.New()), core.WithDerivedKeySecret([]byte("short"))); !errors.Is(err, core.ErrInvalidOption) {
		t.Fatalf("short secret accepted: %v", err)
	}
}

// tooLargeAfterBlip fails the first completion with an outage, then
// refuses the response as too large, as a store whose bound was reached
// meanwhile would.
type tooLargeAfterBlip struct {
	core.Store
	calls atomic.Int32
}

func (s *tooLargeAfterBlip) Complete(ctx context.Context, key string, token uint64, state core.State, payload []byte, ttl time.Duration) error {
	if state == core.StateCompleted {
		if s.calls.Add(1) == 1 {
			return fmt.Errorf("%w: blip", core.ErrStoreUnavailable)
		}
		return fmt.Errorf("%w: no room", core.ErrPayloadTooLarge)
	}
	return s.Store.Complete(ctx, key, token, state, payload, ttl)
}

func TestBackgroundCompletionTooLargeLeavesTombstone(t *testing.T) {
	st := &tooLargeAfterBlip{Store: memory.New()}
	e := newEngine(t, core.WithStore(st))
	ctx := context.Background()
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("big"), nil }
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil { // waits for the background completion
		t.Fatal(err)
	}
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, fn); !errors.Is(err, core.ErrResultUnavailable) {
		t.Fatalf("retry = %v, want ErrResultUnavailable", err)
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times, want once", runs.Load())
	}
}

// Do failing open inside a handler that holds a claim: its function runs
// without a claim of its own, and must not declare effects on the outer
// one.
func TestDoFailOpenHidesTheOuterClaim(t *testing.T) {
	outer := newEngine(t)
	fs := &coretest.FlakyStore{Store: memory.New()}
	inner := newEngine(t, core.WithStore(fs), core.WithFailOpen(true))
	ctx := context.Background()
	_, _, err := outer.Do(ctx, "http", "k", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
		fs.SetDown(true)
		_, _, err := inner.Do(ctx, "queue", "m", core.Fingerprint{}, func(ctx context.Context) ([]byte, error) {
			if err := core.DeclareEffects(ctx); !errors.Is(err, core.ErrNoClaim) {
				t.Errorf("DeclareEffects in a fail-open Do = %v, want ErrNoClaim", err)
			}
			return nil, nil
		})
		return nil, errors.Join(err, errors.New("fail the outer run"))
	})
	if err == nil {
		t.Fatal("want the outer function's error")
	}
	// Had the inner function committed the outer claim, the outer key
	// would now be uncertain; it was released.
	if _, replayed, err := outer.Do(ctx, "http", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil }); err != nil || replayed {
		t.Fatalf("outer retry = %v, %v; want a fresh run", replayed, err)
	}
}
