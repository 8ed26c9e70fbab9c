package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

func newEngine(t *testing.T, opts ...core.Option) *core.Engine {
	t.Helper()
	e, err := core.New(append([]core.Option{core.WithStore(memory.New()), core.WithKeyValidator(core.Token())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestDoRunsOnceAndReplays(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("done"), nil }
	out, replayed, err := e.Do(ctx, "orders", "msg-1", core.Fingerprint{}, fn)
	if err != nil || replayed || string(out) != "done" {
		t.Fatalf("first Do = %q, %v, %v", out, replayed, err)
	}
	out, replayed, err = e.Do(ctx, "orders", "msg-1", core.Fingerprint{}, fn)
	if err != nil || !replayed || string(out) != "done" {
		t.Fatalf("second Do = %q, %v, %v", out, replayed, err)
	}
	// Another scope is another key space.
	if _, replayed, _ := e.Do(ctx, "refunds", "msg-1", core.Fingerprint{}, fn); replayed {
		t.Fatal("scopes share records")
	}
	if runs.Load() != 2 {
		t.Fatalf("ran %d times, want 2", runs.Load())
	}
}

func TestDoConcurrentExactlyOnce(t *testing.T) {
	e := newEngine(t)
	var runs atomic.Int32
	var wg sync.WaitGroup
	var replays atomic.Int32
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, replayed, err := e.Do(context.Background(), "q", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) {
				runs.Add(1)
				time.Sleep(100 * time.Millisecond)
				return []byte("r"), nil
			})
			if err != nil || string(out) != "r" {
				t.Errorf("Do = %q, %v", out, err)
			}
			if replayed {
				replays.Add(1)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 || replays.Load() != 199 {
		t.Fatalf("runs=%d replays=%d, want 1 and 199", runs.Load(), replays.Load())
	}
}

func TestDoErrorsReleaseAndMismatch(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	boom := errors.New("boom")
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{1}, func(context.Context) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	out, replayed, err := e.Do(ctx, "s", "k", core.Fingerprint{1}, func(context.Context) ([]byte, error) { return []byte("ok"), nil })
	if err != nil || replayed || string(out) != "ok" {
		t.Fatalf("retry after error = %q, %v, %v", out, replayed, err)
	}
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{2}, nil); !errors.Is(err, core.ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_, _, _ = e.Do(ctx, "s", "p", core.Fingerprint{}, func(context.Context) ([]byte, error) { panic("x") })
	}()
	if _, replayed, err := e.Do(ctx, "s", "p", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil }); err != nil || replayed {
		t.Fatalf("after panic: %v %v (claim not released?)", replayed, err)
	}
}

func TestDoInFlightAndStoreDown(t *testing.T) {
	fs := &coretest.FlakyStore{Store: memory.New()}
	e, err := core.New(core.WithStore(fs), core.WithKeyValidator(core.Token()), core.WithLockWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	started := make(chan struct{})
	release := make(chan struct{})
	go e.Do(ctx, "s", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) {
		close(started)
		<-release
		return nil, nil
	})
	<-started
	if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{}, nil); !errors.Is(err, core.ErrInFlight) {
		t.Fatalf("err = %v, want ErrInFlight", err)
	}
	close(release)
	fs.SetDown(true)
	if _, _, err := e.Do(ctx, "s", "x", core.Fingerprint{}, nil); !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("err = %v, want ErrStoreUnavailable", err)
	}
}

func TestInspectAndFlush(t *testing.T) {
	e := newEngine(t)
	ctx := context.Background()
	if _, err := e.Inspect(ctx, "s", "k"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Inspect missing = %v", err)
	}
	_, _, _ = e.Do(ctx, "s", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { return []byte("v"), nil })
	in, err := e.Inspect(ctx, "s", "k")
	if err != nil || in.State != core.StateCompleted || in.Response == nil || string(in.Response.Body) != "v" {
		t.Fatalf("Inspect = %+v, %v", in, err)
	}
	if err := e.Flush(ctx, "s", "k"); err != nil {
		t.Fatal(err)
	}
	if _, replayed, _ := e.Do(ctx, "s", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil }); replayed {
		t.Fatal("Flush did not forget the key")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := map[string][]core.Option{
		"no store":       {},
		"zero ttl":       {core.WithStore(memory.New()), core.WithTTL(0)},
		"tiny lease":     {core.WithStore(memory.New()), core.WithLease(time.Millisecond)},
		"bad scope":      {core.WithStore(memory.New()), core.WithScope("tenant")},
		"bad tag":        {core.WithStore(memory.New()), core.Tag("ttl=soon")},
		"unknown tag":    {core.WithStore(memory.New()), core.Tag("fast")},
		"no methods":     {core.WithStore(memory.New()), core.WithMethods()},
		"nil hasher":     {core.WithStore(memory.New()), core.WithPayloadHasher(nil)},
		"bad ignore":     {core.WithStore(memory.New()), core.WithIgnoredFields("a..b")},
		"negative wait":  {core.WithStore(memory.New()), core.WithLockWait(-time.Second)},
		"bad header":     {core.WithStore(memory.New()), core.WithHeaderName("X Key")},
		"ignore+custom":  {core.WithStore(memory.New()), core.WithIgnoredFields("a"), core.WithPayloadHasher(core.PayloadHasherFunc(func(*core.FingerprintInput) (core.Fingerprint, error) { return core.Fingerprint{}, nil }))},
		"bad max key":    {core.WithStore(memory.New()), core.WithMaxKeyLength(0)},
		"bad body limit": {core.WithStore(memory.New()), core.WithMaxBodyBytes(0)},
	}
	for name, opts := range cases {
		if _, err := core.New(opts...); !errors.Is(err, core.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
	}
	if _, err := core.New(core.WithStore(memory.New()), core.WithTTL(time.Second)); err != nil {
		t.Fatalf("a TTL shorter than the lease is valid: %v", err)
	}
}

func TestMustPanicsOnError(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("Must did not panic")
		}
	}()
	core.Must(core.New())
}

// Events of Do carry Do's scope (a name the code chose), not the HTTP
// scope kind the Engine was built with, which Do never uses.
func TestDoEventsCarryDoScope(t *testing.T) {
	rec := &coretest.Recorder{}
	e := newEngine(t, core.WithTelemetry(rec))
	ctx := context.Background()
	ok := func(context.Context) ([]byte, error) { return []byte("ok"), nil }
	if _, _, err := e.Do(ctx, "orders", "k", core.Fingerprint{1}, ok); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Do(ctx, "orders", "k", core.Fingerprint{2}, ok); !errors.Is(err, core.ErrMismatch) {
		t.Fatalf("err = %v, want ErrMismatch", err)
	}
	evs := rec.Events(core.EventPayloadMismatch)
	if len(evs) != 1 || evs[0].Scope != "orders" || evs[0].Route != "orders" || evs[0].Method != "DO" {
		t.Fatalf("mismatch events = %+v, want one with scope and route orders, method DO", evs)
	}
}
