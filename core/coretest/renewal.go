package coretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// TestRenewalAtScale runs n long operations at once through an Engine on
// st, every store call slowed by latency, with a lease of 20 × latency and
// operations lasting 4 leases. Once the first lease has long passed, a
// duplicate of every key is sent: each must find its key still in flight.
// No operation may run twice and no lease may be lost.
//
// It is the scenario that broke when renewals went one after another: a
// renewal pass then cost n × latency (100 s for 1,000 claims at 100 ms),
// far longer than the lease. The lease leaves a renewal pass 13 latencies
// of slack past its period: with 6, a CI machine running every module's
// tests at once stalled renewals past it (357 of 1,000 keys ran twice),
// which is load, not the defect this test is for.
func TestRenewalAtScale(t *testing.T, st core.Store, n int, latency time.Duration) {
	lease := 20 * latency
	rec := &Recorder{}
	eng, err := core.New(core.WithStore(SlowStore(st, latency)), core.WithKeyValidator(core.Token()),
		core.WithLease(lease), core.WithLockWait(0), core.WithTelemetry(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eng.Close(context.Background()) })

	prefix := fmt.Sprintf("renewal-%d-", time.Now().UnixNano())
	runs := make([]atomic.Int32, n)
	started := make(chan struct{}, n)
	release := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			_, _, err := eng.Do(context.Background(), "renewal", fmt.Sprint(prefix, i), core.Fingerprint{1}, func(context.Context) ([]byte, error) {
				runs[i].Add(1)
				started <- struct{}{}
				<-release
				return []byte("ok"), nil
			})
			if err != nil {
				errs <- fmt.Errorf("original %d: %w", i, err)
			}
		})
	}
	for range n {
		<-started
	}
	// Every original holds its claim now. Wait well past the first lease.
	time.Sleep(2 * lease)
	var dups sync.WaitGroup
	for i := range n {
		dups.Go(func() {
			_, _, err := eng.Do(context.Background(), "renewal", fmt.Sprint(prefix, i), core.Fingerprint{1}, func(context.Context) ([]byte, error) {
				runs[i].Add(1)
				return []byte("dup"), nil
			})
			if !errors.Is(err, core.ErrInFlight) {
				errs <- fmt.Errorf("duplicate %d: err = %v, want ErrInFlight (its original is still running)", i, err)
			}
		})
	}
	dups.Wait()
	time.Sleep(2 * lease) // and past it again, while the originals still run
	close(release)
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	twice := 0
	for i := range runs {
		if runs[i].Load() != 1 {
			twice++
		}
	}
	if twice > 0 || failed > 0 {
		t.Fatalf("%d of %d keys ran other than once; %d errors", twice, n, failed)
	}
	if lost := rec.Events(core.EventLockInconsistency); len(lost) > 0 {
		t.Fatalf("%d leases lost (LOCK_INCONSISTENCY): %v", len(lost), lost[0].Detail)
	}
}
