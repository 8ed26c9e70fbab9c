package idempg_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// The transactional completion through the Engine (Engine.Do, which runs
// the same claim protocol as HTTP requests): no test hook, the real
// core.HoldResponse.

func newEngine(t testing.TB, st core.Store, opts ...core.Option) *core.Engine {
	t.Helper()
	eng, err := core.New(append([]core.Option{core.WithStore(st), core.WithKeyValidator(core.Token()), core.WithLockWait(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })
	return eng
}

// doKey is an idempotency key unique to this process run.
func doKey() string { return fmt.Sprintf("k%d-%d", time.Now().UnixNano(), keySeq.Add(1)) }

// payFn is an operation whose only effect is a payment in the claim's
// transaction; runs counts it.
func payFn(k string, runs *atomic.Int32) func(ctx context.Context) ([]byte, error) {
	return func(ctx context.Context) ([]byte, error) {
		runs.Add(1)
		if err := pay(ctx, k); err != nil {
			return nil, err
		}
		return []byte("paid"), nil
	}
}

func TestEngineDoCommitsPaymentWithRecord(t *testing.T) {
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	eng := newEngine(t, st)
	ctx := ctxT(t)
	k := doKey()
	var runs atomic.Int32
	for i := 0; i < 3; i++ {
		res, replayed, err := eng.Do(ctx, "pay", k, fpOf("a"), payFn(k, &runs))
		if err != nil || string(res) != "paid" || replayed != (i > 0) {
			t.Fatalf("Do #%d = %q, replayed %v, %v", i+1, res, replayed, err)
		}
	}
	if runs.Load() != 1 || paid(t, pool, k) != 1 {
		t.Fatalf("runs %d, payments %d; want 1 and 1", runs.Load(), paid(t, pool, k))
	}
}

// An operation that fails after its payment leaves no payment, and its
// key released: the next call runs it again, once.
func TestEngineDoFailureRollsBack(t *testing.T) {
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	eng := newEngine(t, st)
	ctx := ctxT(t)
	k := doKey()
	errDeclined := errors.New("card declined after the insert")
	_, _, err := eng.Do(ctx, "pay", k, fpOf("a"), func(ctx context.Context) ([]byte, error) {
		if err := pay(ctx, k); err != nil {
			return nil, err
		}
		return nil, errDeclined
	})
	if !errors.Is(err, errDeclined) {
		t.Fatalf("Do = %v, want the operation's error", err)
	}
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payments after a failed run = %d, want 0", n)
	}
	var runs atomic.Int32
	if res, replayed, err := eng.Do(ctx, "pay", k, fpOf("a"), payFn(k, &runs)); err != nil || replayed || string(res) != "paid" {
		t.Fatalf("retry = %q, replayed %v, %v", res, replayed, err)
	}
	if runs.Load() != 1 || paid(t, pool, k) != 1 {
		t.Fatalf("runs %d, payments %d", runs.Load(), paid(t, pool, k))
	}
}

// A claim lost while the operation ran (an operator deleted the key and
// another caller claimed it) refuses the completion at the fence: the
// payment rolls back and Do returns ErrNotCommitted; the new owner's run
// pays once.
func TestEngineDoLostClaimRollsBack(t *testing.T) {
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	eng := newEngine(t, st)
	ctx := ctxT(t)
	k := doKey()
	var other core.BeginResult
	_, _, err := eng.Do(ctx, "pay", k, fpOf("a"), func(ctx context.Context) ([]byte, error) {
		if err := pay(ctx, k); err != nil {
			return nil, err
		}
		sk := core.StoreKey("pay", k)
		if err := st.Delete(ctx, sk); err != nil {
			return nil, err
		}
		other = claim(t, st, sk, time.Minute)
		return []byte("paid"), nil
	})
	if !errors.Is(err, core.ErrNotCommitted) {
		t.Fatalf("Do = %v, want ErrNotCommitted", err)
	}
	if other.Outcome != core.OutcomeOriginal {
		t.Fatalf("the other caller's Begin = %v", other.Outcome)
	}
	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payments = %d after a refused completion, want 0", n)
	}
	rec, err := st.Get(ctx, core.StoreKey("pay", k))
	if err != nil || rec.State != core.StateInFlight || rec.Token != other.Token {
		t.Fatalf("record = %+v, %v; want the other caller's claim", rec, err)
	}
}

// 500 concurrent duplicates, spread over four Engines (four instances,
// each with its own store and pool), run the operation once and pay once;
// every caller gets its result.
func TestEngineDoConcurrentDuplicates(t *testing.T) {
	const n, instances = 500, 4
	setup := newPool(t)
	payments(t, setup)
	var engines []*core.Engine
	for i := 0; i < instances; i++ {
		engines = append(engines, newEngine(t, newStore(t, newPool(t))))
	}
	ctx := ctxT(t)
	k := doKey()
	var runs, replays atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(eng *core.Engine) {
			defer wg.Done()
			<-start
			res, replayed, err := eng.Do(ctx, "pay", k, fpOf("a"), func(ctx context.Context) ([]byte, error) {
				time.Sleep(100 * time.Millisecond) // the duplicates pile up
				return payFn(k, &runs)(ctx)
			})
			switch {
			case err != nil:
				errs <- err
			case string(res) != "paid":
				errs <- fmt.Errorf("result %q", res)
			case replayed:
				replays.Add(1)
			}
		}(engines[i%instances])
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if runs.Load() != 1 || paid(t, setup, k) != 1 {
		t.Fatalf("runs %d, payments %d; want 1 and 1", runs.Load(), paid(t, setup, k))
	}
	if replays.Load() != n-1 {
		t.Fatalf("replays = %d, want %d", replays.Load(), n-1)
	}
}

// Outside an Engine's claim, Tx refuses: core.HoldResponse has no claim.
func TestTxOutsideEngineClaim(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := doKey()
	c := claim(t, st, k, time.Minute)
	hctx, ctx2 := claimTx(t, st, ctx, k, c.Token)
	if _, err := idempg.Tx(hctx); !errors.Is(err, core.ErrNoClaim) {
		t.Fatalf("Tx outside an Engine's claim = %v, want core.ErrNoClaim", err)
	}
	if ctx2.Begun() {
		t.Fatal("begun")
	}
}
