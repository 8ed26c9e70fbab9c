package idempg_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
)

// 500 concurrent duplicates of one request: the handler runs once, pays
// once in the claim's transaction, and every duplicate ends with its
// response. The duplicates poll (Begin again on OutcomeConflict), as the
// Engine does without a notification.
func TestConcurrentDuplicatesRunTheHandlerOnce(t *testing.T) {
	withoutEngine(t)
	const n = 500
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	var runs, replays atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("a"), Nonce: keySeq.Add(1), Lease: time.Minute, TTL: time.Minute})
				if err != nil {
					errs <- err
					return
				}
				switch res.Outcome {
				case core.OutcomeOriginal:
					runs.Add(1)
					hctx, c := st.ClaimTx(ctx, k, res.Token)
					if err := pay(hctx, k); err != nil {
						c.Rollback(ctx)
						errs <- err
						return
					}
					time.Sleep(50 * time.Millisecond) // the duplicates pile up meanwhile
					if err := c.Complete(ctx, core.StateCompleted, []byte("paid"), time.Minute); err != nil {
						errs <- err
					}
					return
				case core.OutcomeRepeated:
					if string(res.Record.Payload) != "paid" {
						t.Errorf("replayed %q", res.Record.Payload)
					}
					replays.Add(1)
					return
				case core.OutcomeConflict:
					time.Sleep(10 * time.Millisecond)
				default:
					t.Errorf("outcome %v", res.Outcome)
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if runs.Load() != 1 || replays.Load() != n-1 {
		t.Fatalf("handler runs %d, replays %d; want 1 and %d", runs.Load(), replays.Load(), n-1)
	}
	if p := paid(t, pool, k); p != 1 {
		t.Fatalf("payments = %d, want 1", p)
	}
}
