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
// store, with clients leaving, handlers failing and short leases: never
// two runs of one key at once, nobody waits past the lock wait.
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
		engines = append(engines, newEngine(t, core.WithStore(st), core.WithLockWait(wait), core.WithLease(60*time.Millisecond)))
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
			_, _, err := e.Do(ctx, "s", "k"+string(rune('a'+k)), core.Fingerprint{1}, func(context.Context) ([]byte, error) {
				if running[k].Add(1) > 1 {
					overlap.Add(1)
				}
				defer running[k].Add(-1)
				time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond)
				if rand.IntN(3) == 0 {
					return nil, errors.New("fail")
				}
				return []byte("ok"), nil
			})
			_ = err
			if d := time.Since(start); d > wait+150*time.Millisecond {
				slow.Add(1)
				t.Logf("Do took %v: %v", d, err)
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
