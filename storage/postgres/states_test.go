package idempg_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// A record of a format version this code does not know is never replayed,
// overwritten or taken for absent: every call fails closed.
func TestUnknownFormatFailsClosed(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	for _, state := range []core.State{core.StateInFlight, core.StateCompleted} {
		k := testKey(t)
		c := claim(t, st, k, time.Minute)
		if state == core.StateCompleted {
			if err := st.Complete(ctx, k, c.Token, state, []byte("r"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := pool.Exec(ctx, `UPDATE idempg_records SET version = 9 WHERE key = $1`, []byte(k)); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("a"), Nonce: 1, Lease: time.Minute, TTL: time.Minute}); !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%v: Begin = %v, want ErrCorruptRecord", state, err)
		}
		if _, err := st.Get(ctx, k); !errors.Is(err, core.ErrCorruptRecord) {
			t.Fatalf("%v: Get = %v, want ErrCorruptRecord", state, err)
		}
		if err := st.Resolve(ctx, k, nil, time.Minute); !errors.Is(err, core.ErrNotResolvable) {
			t.Fatalf("%v: Resolve = %v, want ErrNotResolvable", state, err)
		}
		for name, err := range map[string]error{
			"Renew":    st.Renew(ctx, k, c.Token, time.Minute),
			"Commit":   st.Commit(ctx, k, c.Token, nil),
			"Complete": st.Complete(ctx, k, c.Token, core.StateCompleted, []byte("x"), time.Minute),
			"Release":  st.Release(ctx, k, c.Token),
		} {
			if !errors.Is(err, core.ErrLeaseLost) {
				t.Fatalf("%v: %s = %v, want ErrLeaseLost", state, name, err)
			}
		}
		var v int
		if err := pool.QueryRow(ctx, `SELECT version FROM idempg_records WHERE key = $1`, []byte(k)).Scan(&v); err != nil || v != 9 {
			t.Fatalf("%v: the record changed: version %d, %v", state, v, err)
		}
	}
}

func TestStats(t *testing.T) {
	pool := migrated(t, "stats_")
	st := newStore(t, pool, idempg.WithTablePrefix("stats_"))
	ctx := ctxT(t)
	claim(t, st, testKey(t), time.Minute)
	for _, s := range []core.State{core.StateCompleted, core.StateCompleted, core.StateTombstone, core.StateUncertain} {
		k := testKey(t)
		c := claim(t, st, k, time.Minute)
		if err := st.Complete(ctx, k, c.Token, s, []byte("r"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	fill(t, st, 1, time.Millisecond)
	time.Sleep(10 * time.Millisecond)
	got, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (idempg.Stats{InFlight: 1, Completed: 2, Tombstones: 1, Uncertain: 1, Expired: 1}); got != want {
		t.Fatalf("Stats = %+v, want %+v", got, want)
	}
}

// The LISTEN connection that dies (terminated by an administrator, a
// failover) is reopened; the watches of the meantime are woken, since
// their notifications may be lost, and later ones arrive.
func TestNotifierReconnects(t *testing.T) {
	pool := newPool(t)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)
	c := claim(t, st, k, time.Minute)
	claim(t, st, k, time.Minute) // a duplicate found it in flight: its end is notified
	woken := make(chan struct{}, 2)
	stop, err := st.Watch(ctx, k, func() { woken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("terminated %d LISTEN backends, %v; want 1", n, err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch was not woken when its connection died")
	}
	// Once reconnected, a new watch hears the claim's end.
	k2 := testKey(t)
	c2 := claim(t, st, k2, time.Minute)
	claim(t, st, k2, time.Minute)
	stop2, err := st.Watch(ctx, k2, func() { woken <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var listening int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'`).Scan(&listening)
		if listening == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not reconnect")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := st.Complete(ctx, k2, c2.Token, core.StateCompleted, []byte("r"), time.Minute); err != nil {
		t.Fatal(err)
	}
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after the reconnect")
	}
	_ = st.Release(context.Background(), k, c.Token)
}
