package core_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

// Duplicates across two Engines sharing one memory
// store, with clients leaving and handlers failing: never two runs of one
// key at once, nobody waits past the lock wait.
//
// The lease is far longer than any handler (2 s against at most 40 ms):
// a lease that expires under a running handler is handed over by design,
// and with a 60 ms lease a CI machine that stalled the renewer for 40 ms
// produced exactly that overlap. A store that took over live claims, or
// a waiter that waited for the lease instead of the lock wait, still
// fails here (both seen), and so does a waiter that outstays the lock
// wait for a long run (seen with the wait made ten times longer).
func TestWaitersNeverOverlapRunsOrOverstayTheLockWait(t *testing.T) {
	for _, notify := range []bool{true, false} {
		waiterStress(t, notify)
	}
}

func waiterStress(t *testing.T, notify bool) {
	var st core.Store = memory.New()
	if !notify {
		st = &countingStore{Store: st}
	}
	const wait = 150 * time.Millisecond
	var engines []*core.Engine
	for i := 0; i < 2; i++ {
		engines = append(engines, newEngine(t, core.WithStore(st), core.WithLockWait(wait), core.WithLease(2*time.Second)))
	}
	var running [16]atomic.Int32
	var overlap atomic.Int32
	var slow atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 400; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			k := i%4 + 4*(i/100)
			e := engines[rand.IntN(2)]
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if rand.IntN(5) == 0 {
				time.AfterFunc(time.Duration(rand.IntN(20))*time.Millisecond, cancel)
			}
			time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
			start := time.Now()
			var ran time.Duration // how long this call's own handler ran
			_, _, err := e.Do(ctx, "s", "k"+string(rune('a'+k)), core.Fingerprint{1}, func(context.Context) ([]byte, error) {
				began := time.Now()
				defer func() { ran = time.Since(began) }()
				if running[k].Add(1) > 1 {
					overlap.Add(1)
				}
				defer running[k].Add(-1)
				// One handler in ten outlasts the lock wait, so some
				// waiters must give up at it rather than at the run's end.
				d := time.Duration(rand.IntN(40)) * time.Millisecond
				if rand.IntN(10) == 0 {
					d = 3 * wait
				}
				time.Sleep(d)
				if rand.IntN(3) == 0 {
					return nil, errors.New("fail")
				}
				return []byte("ok"), nil
			})
			if d := time.Since(start) - ran; d > wait+200*time.Millisecond {
				slow.Add(1)
				t.Logf("Do waited %v: %v", d, err)
			}
		}(i)
	}
	wg.Wait()
	if overlap.Load() > 0 {
		t.Errorf("%d overlapping runs", overlap.Load())
	}
	if slow.Load() > 0 {
		t.Errorf("%d waited past the lock wait", slow.Load())
	}
}
