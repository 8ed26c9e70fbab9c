package idemredis_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// Two instances (engines with their own clients) on one Redis: a storm of
// payload mismatches on both fires one alert per cooldown window.
func TestAlertCooldownSharedAcrossInstances(t *testing.T) {
	addr := redistest.Server(t)
	var alerts atomic.Int32
	handler := func(context.Context, core.Event) { alerts.Add(1) }
	newInstance := func() *core.Engine {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { rdb.Close() })
		e, err := core.New(core.WithStore(idemredis.New(rdb, idemredis.WithPrefix("alerts:"))),
			core.WithKeyValidator(core.Token()), core.WithAlertHandler(handler),
			core.WithAlertCooldown(700*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	a, b := newInstance(), newInstance()
	ctx := context.Background()
	ok := func(context.Context) ([]byte, error) { return []byte("x"), nil }
	if _, _, err := a.Do(ctx, "s", "k", core.Fingerprint{1}, ok); err != nil {
		t.Fatal(err)
	}
	storm := func() {
		var wg sync.WaitGroup
		for i := 0; i < 40; i++ {
			wg.Add(1)
			go func(e *core.Engine) {
				defer wg.Done()
				if _, _, err := e.Do(ctx, "s", "k", core.Fingerprint{2}, ok); !errors.Is(err, core.ErrMismatch) {
					t.Errorf("err = %v, want ErrMismatch", err)
				}
			}([]*core.Engine{a, b}[i%2])
		}
		wg.Wait()
		time.Sleep(100 * time.Millisecond) // alert handlers run asynchronously
	}
	storm()
	if n := alerts.Load(); n != 1 {
		t.Fatalf("first window: %d alerts, want 1", n)
	}
	time.Sleep(800 * time.Millisecond)
	storm()
	if n := alerts.Load(); n != 2 {
		t.Fatalf("after the window: %d alerts in total, want 2", n)
	}
}
