package apptest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/core/coretest"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// NewStore returns a fresh, empty store for one subtest.
type NewStore func(t *testing.T) core.Store

// RunEffects runs, on the apps build returns and the stores newStore
// returns, every way a request that ran must not run again (SPEC §3 step
// 9): a response too large to store and a streamed one leave a tombstone
// (410), a failure, a panic or a dead owner after declared effects leave
// the key uncertain (423) until it is resolved. Each app runs it on the
// memory store and on a real Redis, so the guarantee holds on every
// framework and both stores.
func RunEffects(t *testing.T, build Build, newStore NewStore) {
	const body = `{"amount":1,"currency":"EUR"}`
	payments := func(s *shop.Shop) int64 { return s.Executions(shop.Payments) }

	t.Run("OversizeLeavesTombstone", func(t *testing.T) {
		s := shop.New()
		app := build(t, newStore(t), s, core.WithMaxResponseBytes(16))
		const key = "1c4f8a2e-3b5d-4e6f-8a9b-0c1d2e3f4a5b"
		if w := Do(app, "POST", "/payments", body, "Idempotency-Key", key); w.Code != http.StatusCreated || w.Header.Get("Idempotency-Status") != "Original" {
			t.Fatalf("first: %d %q %s", w.Code, w.Header.Get("Idempotency-Status"), w.Body)
		}
		for try := range 2 {
			if err := CheckProblem(Do(app, "POST", "/payments", body, "Idempotency-Key", key), http.StatusGone, core.ProblemResultUnavailable); err != nil {
				t.Fatalf("retry %d: %v", try+1, err)
			}
		}
		if n := payments(s); n != 1 {
			t.Fatalf("an oversize payment ran %d times, want once", n)
		}
	})

	t.Run("StreamedLeavesTombstone", func(t *testing.T) {
		s := shop.New()
		app := build(t, newStore(t), s)
		const key = "2c4f8a2e-3b5d-4e6f-8a9b-0c1d2e3f4a5b"
		if w := Do(app, "POST", "/exports", `{}`, "Idempotency-Key", key); w.Code != http.StatusOK {
			t.Fatalf("export: %d %s", w.Code, w.Body)
		}
		if err := CheckProblem(Do(app, "POST", "/exports", `{}`, "Idempotency-Key", key), http.StatusGone, core.ProblemResultUnavailable); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if n := s.Executions(shop.Exports); n != 1 {
			t.Fatalf("the export ran %d times, want once", n)
		}
	})

	t.Run("FailureAfterEffectsIsUncertainUntilResolved", func(t *testing.T) {
		store := newStore(t)
		s := shop.New()
		app := build(t, store, s)
		eng, err := core.New(shop.Options(store, shop.Payments)...)
		if err != nil {
			t.Fatal(err)
		}
		runs := int64(0)
		for i, q := range []string{"effects=1&fail=500", "effects=1&panic=1"} {
			key := fmt.Sprintf("%d2a7c3d4-5e6f-4a1b-8c2d-3e4f5a6b7c8d", i)
			path := "/payments?" + q
			if w := Do(app, "POST", path, body, "Idempotency-Key", key); w.Code != 500 {
				t.Errorf("%s: %d %s, want 500", q, w.Code, w.Body)
			}
			runs++
			for try := range 2 {
				w := Do(app, "POST", path, body, "Idempotency-Key", key)
				if err := CheckProblem(w, http.StatusLocked, core.ProblemOperationUncertain); err != nil {
					t.Errorf("%s, retry %d: %v", q, try+1, err)
				}
			}
			if n := payments(s); n != runs {
				t.Errorf("%s: executions %d, want %d: an uncertain payment ran again", q, n, runs)
			}
			// The operator finds that the charge did not happen and
			// releases the key: the next request with it runs once. The
			// scope is the route pattern as every framework reports it.
			scope := core.ScopeString(core.ScopeUserRoute, "", "POST", "/payments", "")
			if err := eng.Resolve(context.Background(), scope, key, nil); err != nil {
				t.Fatalf("%s: Resolve: %v", q, err)
			}
			for try, want := range []string{"Original", "Repeated"} {
				w := Do(app, "POST", "/payments", body, "Idempotency-Key", key)
				if w.Code != http.StatusCreated || w.Header.Get("Idempotency-Status") != want {
					t.Errorf("%s, after the release, try %d: %d %q %s, want 201 %s", q, try+1, w.Code, w.Header.Get("Idempotency-Status"), w.Body, want)
				}
			}
			runs++
			if n := payments(s); n != runs {
				t.Errorf("%s: executions %d after the release, want %d", q, n, runs)
			}
		}

		// effects=1 on a payment that succeeds changes nothing for the
		// client: it is stored and replayed.
		const ok = "9a2a7c3d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
		for _, want := range []string{"Original", "Repeated"} {
			if w := Do(app, "POST", "/payments?effects=1", body, "Idempotency-Key", ok); w.Code != 201 || w.Header.Get("Idempotency-Status") != want {
				t.Errorf("effects=1: %d %q, want 201 %s", w.Code, w.Header.Get("Idempotency-Status"), want)
			}
		}
	})

	t.Run("DeadOwnerAfterEffectsIsUncertain", func(t *testing.T) {
		// The instance "dies" once the payment declared its effects:
		// neither renewal nor completion reaches the store, so the claim's
		// lease runs out with the record committed, as after a SIGKILL
		// (examples/e2e kills a real process too).
		s := shop.New()
		const lease = 300 * time.Millisecond
		app := build(t, coretest.NewKilledAfterCommit(newStore(t)), s, core.WithLease(lease), core.WithLockWait(0))
		const key = "3c4f8a2e-3b5d-4e6f-8a9b-0c1d2e3f4a5b"
		Do(app, "POST", "/payments", body, "Idempotency-Key", key)
		time.Sleep(lease + 200*time.Millisecond)
		for try := range 3 {
			if err := CheckProblem(Do(app, "POST", "/payments", body, "Idempotency-Key", key), http.StatusLocked, core.ProblemOperationUncertain); err != nil {
				t.Fatalf("retry %d after the owner died: %v", try+1, err)
			}
		}
		if n := payments(s); n != 1 {
			t.Fatalf("the payment ran %d times, want once", n)
		}
	})
}

// Stores returns the stores RunEffects runs on: the memory store, and a
// Redis store on one real redis-server for the whole test (miniredis
// outside CI when redis-server is missing; see redistest), each subtest
// under its own key prefix.
func Stores(t *testing.T) map[string]NewStore {
	var rdb *redis.Client
	return map[string]NewStore{
		"memory": func(*testing.T) core.Store { return memory.New() },
		"redis": func(st *testing.T) core.Store {
			if rdb == nil {
				rdb = redis.NewClient(&redis.Options{Addr: redistest.Server(t), ContextTimeoutEnabled: true})
				t.Cleanup(func() { _ = rdb.Close() })
			}
			return idemredis.New(rdb, idemredis.WithPrefix("apptest:"+st.Name()+":"))
		},
	}
}
