package faults

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/servertest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// paymentScope is the scope the example servers store alice's payments
// under.
var paymentScope = core.ScopeString(core.ScopeUserRoute, "alice", http.MethodPost, "/payments", "")

// TestOwnerKilledMidHandler: an instance (Echo) is SIGKILLed while it
// runs six payments; a second instance (Fiber) on the same Redis, both
// with -lease 1s, is asked for all six keys at once, again and again,
// from three clients per key. Three payments had not declared their
// effects (they were in their delay): after the lease each is taken over
// and runs exactly once more, then replays. Three had declared them
// (effects=1, then the delay): each becomes 423 operation-uncertain and
// never runs again. Until the lease ends every answer is 409.
func TestOwnerKilledMidHandler(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	args := []string{"-redis", "redis://" + rds.Addr + "/0", "-lease", "1s", "-lock-wait", "100ms"}
	a, b := servertest.Start(t, "echo", args...), servertest.Start(t, "fiber", args...)
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: rds.Addr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := idemredis.New(rdb)

	l := newLedger()
	type job struct {
		key, path string
		effects   bool
	}
	var jobs []job
	for i := range 6 {
		j := job{key: l.newKey(), path: "/payments?delay=3s", effects: i%2 == 1}
		if j.effects {
			j.path = "/payments?effects=1&delay=3s"
		}
		jobs = append(jobs, j)
	}
	// The owner's requests die with it: not recorded, they get no answer.
	owner := make(chan error, len(jobs))
	for _, j := range jobs {
		go func() {
			_, err := servertest.Post(ctx, c, a.Base, j.path, j.key, l.body(j.key))
			owner <- err
		}()
	}
	// Wait for every claim to be in the store, and the committed ones
	// marked, or the kill could land before a declaration (and the
	// takeover would be right).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ready := 0
		for _, j := range jobs {
			rec, err := store.Get(ctx, core.StoreKey(paymentScope, j.key))
			if err == nil && rec.State == core.StateInFlight && rec.Committed == j.effects {
				ready++
			}
		}
		if ready == len(jobs) && a.MustStats(t).Payments == int64(len(jobs)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the six payments were not running within 10s (%d ready)\n%s", ready, a.Log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Kill(t)
	killed := time.Now()
	for range jobs {
		if err := <-owner; err == nil {
			t.Errorf("a request to the killed instance got an answer")
		}
	}

	var wg sync.WaitGroup
	for _, j := range jobs {
		for range 3 {
			wg.Go(func() {
				final := 0
				for final < 3 && ctx.Err() == nil {
					o := l.pay(ctx, c, b, j.path, j.key)
					if o.err == nil && o.r.Status != http.StatusConflict {
						final++
					}
					if time.Since(killed) > 20*time.Second {
						t.Errorf("key %s not settled 20s after the kill: %v", j.key, o.r)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
	}
	wg.Wait()

	tl := l.check(t, "201 Original", "201 Repeated", "409 request-in-flight", "423 operation-uncertain")
	t.Logf("%d requests to the survivor: %v", len(l.outcomes()), tl)
	for _, j := range jobs {
		var originals, uncertain int
		for _, o := range l.outcomes() {
			if o.key != j.key || o.err != nil {
				continue
			}
			switch replyLabel(o.r) {
			case "201 Original":
				originals++
			case "423 operation-uncertain":
				uncertain++
			}
		}
		switch {
		case j.effects && (originals != 0 || uncertain == 0):
			t.Errorf("key %s (effects declared, owner killed): %d Originals and %d 423 on the survivor, want 0 and some", j.key, originals, uncertain)
		case !j.effects && (originals != 1 || uncertain != 0):
			t.Errorf("key %s (no effects, owner killed): %d Originals and %d 423 on the survivor, want exactly 1 and none", j.key, originals, uncertain)
		}
	}
	if n := b.MustStats(t).Payments; n != 3 {
		t.Errorf("the survivor ran %d payments, want exactly 3 (the takeovers of the payments without effects)", n)
	}
	account(t, tl, b.MustStats(t).Payments)
}
