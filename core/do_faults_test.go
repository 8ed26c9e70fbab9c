package core_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/storage/memory"
)

// Do measures every call and counts replays like the HTTP path.
func TestDoRecordsMeasurementsAndDuplicates(t *testing.T) {
	rec := &coretest.Recorder{}
	e := newEngine(t, core.WithTelemetry(rec), core.WithDuplicateThreshold(2))
	ctx := context.Background()
	fn := func(context.Context) ([]byte, error) { return []byte("r"), nil }
	for range 3 {
		if _, _, err := e.Do(ctx, "q", "k", core.Fingerprint{1}, fn); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.Do(ctx, "q", "k", core.Fingerprint{2}, fn); !errors.Is(err, core.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	got := rec.Outcomes()
	if got[core.OutcomeOriginal] != 1 || got[core.OutcomeRepeated] != 2 || got[core.OutcomeMismatch] != 1 {
		t.Fatalf("outcomes = %v", got)
	}
	if n := len(rec.Events(core.EventResponseDuplicate)); n != 1 {
		t.Fatalf("RESPONSE_DUPLICATE fired %d times, want 1", n)
	}
}

// Do keys follow validation: a UUID in upper case is the same key.
func TestDoKeyIdentityFollowsValidation(t *testing.T) {
	e, err := core.New(core.WithStore(memory.New()))
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("r"), nil }
	const k = "6f1d1c5e-55b5-4b9e-9a63-7cb3c1f0a001"
	for _, key := range []string{k, strings.ToUpper(k)} {
		if _, _, err := e.Do(context.Background(), "q", key, core.Fingerprint{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	if runs.Load() != 1 {
		t.Fatalf("ran %d times for one UUID in two spellings", runs.Load())
	}
	if _, err := e.Inspect(context.Background(), "q", k); err != nil {
		t.Fatalf("the record is not under the canonical key: %v", err)
	}
}

// Store errors keep their cause, and an untrustworthy record is never
// treated as absent, even failing open.
func TestDoStoreErrors(t *testing.T) {
	fs := &coretest.FlakyStore{Store: memory.New()}
	fs.SetDown(true)
	e := newEngine(t, core.WithStore(fs))
	_, _, err := e.Do(context.Background(), "q", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil })
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, coretest.ErrInjected) {
		t.Fatalf("err = %v, want ErrStoreUnavailable wrapping the cause", err)
	}

	// A store error that does not say it is an outage is wrapped, cause kept.
	e = newEngine(t, core.WithStore(plainErrorStore{memory.New()}))
	_, _, err = e.Do(context.Background(), "q", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { return nil, nil })
	if !errors.Is(err, core.ErrStoreUnavailable) || !errors.Is(err, errPlain) {
		t.Fatalf("err = %v, want ErrStoreUnavailable wrapping the store's own error", err)
	}

	rec := &coretest.Recorder{}
	e = newEngine(t, core.WithStore(coretest.CorruptStore{Store: memory.New()}), core.WithFailOpen(true), core.WithTelemetry(rec))
	ran := false
	_, _, err = e.Do(context.Background(), "q", "k", core.Fingerprint{}, func(context.Context) ([]byte, error) { ran = true; return nil, nil })
	if ran || !errors.Is(err, core.ErrCorruptRecord) {
		t.Fatalf("ran=%v err=%v: an unknown record must fail closed even when failing open", ran, err)
	}
	if len(rec.Events(core.EventRecordRejected)) != 1 {
		t.Fatal("RECORD_REJECTED not fired")
	}
}

// A completion that fails is retried in the background; Close stops the
// retries when the store never comes back.
func TestDoCompletionRetriedAndClose(t *testing.T) {
	st := &coretest.CompleteOutage{Store: memory.New(), For: 300 * time.Millisecond}
	e := newEngine(t, core.WithStore(st), core.WithLease(5*time.Second))
	var runs atomic.Int32
	fn := func(context.Context) ([]byte, error) { runs.Add(1); return []byte("r"), nil }
	if _, _, err := e.Do(context.Background(), "q", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close waited for the pending completion and got %v", err)
	}
	out, replayed, err := e.Do(context.Background(), "q", "k", core.Fingerprint{}, fn)
	if err != nil || !replayed || string(out) != "r" || runs.Load() != 1 {
		t.Fatalf("after the outage: %q replayed=%v err=%v runs=%d", out, replayed, err, runs.Load())
	}

	st = &coretest.CompleteOutage{Store: memory.New(), For: time.Hour}
	e = newEngine(t, core.WithStore(st), core.WithLease(time.Hour))
	if _, _, err := e.Do(context.Background(), "q", "k", core.Fingerprint{}, fn); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want the deadline (the retry never lands)", err)
	}
}

// Close does not wait for the alert worker, only for pending completions.
func TestCloseWithAlerts(t *testing.T) {
	got := make(chan core.Event, 1)
	e := newEngine(t, core.WithAlertHandler(func(_ context.Context, ev core.Event) { got <- ev }))
	fn := func(context.Context) ([]byte, error) { return []byte("r"), nil }
	_, _, _ = e.Do(context.Background(), "q", "k", core.Fingerprint{1}, fn)
	_, _, _ = e.Do(context.Background(), "q", "k", core.Fingerprint{2}, fn)
	<-got
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := e.Close(ctx); err != nil {
		t.Fatalf("Close = %v: it waited for the alert worker", err)
	}
}

var errPlain = errors.New("plain store error")

// plainErrorStore fails Begin with an error that does not wrap
// core.ErrStoreUnavailable, as a careless third-party store might.
type plainErrorStore struct{ core.Store }

func (plainErrorStore) Begin(context.Context, string, core.Attempt) (core.BeginResult, error) {
	return core.BeginResult{}, errPlain
}

// Past the bound on waiting completions, a failed completion is given up
// at once, and the bound's counters come back to zero when it drains.
func TestPendingCompletionsBounded(t *testing.T) {
	st := &coretest.CompleteOutage{Store: memory.New(), For: time.Hour}
	rec := &coretest.Recorder{}
	e := newEngine(t, core.WithStore(st), core.WithLease(time.Hour), core.WithTelemetry(rec))
	big := make([]byte, 40<<20) // two of these exceed the 64 MiB bound
	for i := range 3 {
		fn := func(context.Context) ([]byte, error) { return big, nil }
		if _, _, err := e.Do(context.Background(), "q", fmt.Sprint("k", i), core.Fingerprint{}, fn); err != nil {
			t.Fatal(err)
		}
	}
	given := 0
	for _, ev := range rec.Events(core.EventStoreUnavailable) {
		if strings.Contains(ev.Detail, "too many completions") {
			given++
		}
	}
	if given != 2 {
		t.Fatalf("%d completions given up at the byte bound, want 2", given)
	}
	// And past the count bound: 10,000 wait, the next is given up.
	small := func(context.Context) ([]byte, error) { return []byte("r"), nil }
	for i := range 10_000 {
		if _, _, err := e.Do(context.Background(), "q", fmt.Sprint("s", i), core.Fingerprint{}, small); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := core.PendingCompletions(e); n != 10_000 {
		t.Fatalf("%d completions waiting, want the bound, 10,000", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_ = e.Close(ctx)
	if n, b := core.PendingCompletions(e); n != 0 || b != 0 {
		t.Fatalf("after Close: %d completions, %d bytes still counted", n, b)
	}
}
