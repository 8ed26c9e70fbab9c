package idempg_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// migrated returns a pool whose tables have their own prefix, so that
// the test can count rows.
func migrated(t *testing.T, prefix string, configure ...func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	pool := newPool(t, configure...)
	if err := idempg.Migrate(ctxT(t), pool, idempg.WithTablePrefix(prefix)); err != nil {
		t.Fatal(err)
	}
	return pool
}

func rows(t *testing.T, pool *pgxpool.Pool, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(ctxT(t), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// fill makes n completed records of ttl.
func fill(t *testing.T, st *idempg.Store, n int, ttl time.Duration) []string {
	t.Helper()
	var keys []string
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s:%d", testKey(t), i)
		c := claim(t, st, k, time.Minute)
		if err := st.Complete(ctxT(t), k, c.Token, core.StateCompleted, []byte("r"), ttl); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

type purgeKey struct{}

// purgeTracer counts the rows each purge statement deleted.
type purgeTracer struct {
	mu      sync.Mutex
	batches []int64
}

func (p *purgeTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, purgeKey{}, strings.Contains(d.SQL, "SKIP LOCKED"))
}

func (p *purgeTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	if isPurge, _ := ctx.Value(purgeKey{}).(bool); isPurge && d.Err == nil {
		p.mu.Lock()
		p.batches = append(p.batches, d.CommandTag.RowsAffected())
		p.mu.Unlock()
	}
}

// Purge deletes expired records in batches of at most batch rows, and
// nothing live.
func TestPurgeBoundedBatches(t *testing.T) {
	tr := &purgeTracer{}
	pool := migrated(t, "purge_", func(c *pgxpool.Config) { c.ConnConfig.Tracer = tr })
	st := newStore(t, pool, idempg.WithTablePrefix("purge_"))
	ctx := ctxT(t)
	fill(t, st, 25, 50*time.Millisecond)
	live := fill(t, st, 5, time.Minute)
	inflight := testKey(t)
	claim(t, st, inflight, time.Minute)
	if ok, err := st.AcquireCooldown(ctx, "alert", 10*time.Millisecond); !ok || err != nil {
		t.Fatal(ok, err)
	}
	time.Sleep(100 * time.Millisecond)

	n, err := st.Purge(ctx, 10)
	if err != nil || n != 25 {
		t.Fatalf("Purge = %d, %v; want 25", n, err)
	}
	if got := fmt.Sprint(tr.batches); got != "[10 10 5]" {
		t.Fatalf("purge batches = %s, want [10 10 5]", got)
	}
	if r := rows(t, pool, "purge_records"); r != 6 {
		t.Fatalf("records left = %d, want the 6 live ones", r)
	}
	if r := rows(t, pool, "purge_cooldowns"); r != 0 {
		t.Fatalf("cooldowns left = %d, want 0", r)
	}
	for _, k := range live {
		if res := claim(t, st, k, time.Minute); res.Outcome != core.OutcomeRepeated {
			t.Fatalf("live record after Purge = %v", res.Outcome)
		}
	}
	if res := claim(t, st, inflight, time.Minute); res.Outcome != core.OutcomeConflict {
		t.Fatalf("claim after Purge = %v", res.Outcome)
	}
	if n, err := st.Purge(ctx, 0); n != 0 || err != nil {
		t.Fatalf("second Purge = %d, %v", n, err)
	}
}

// WithPurgeInterval purges in the background until Close.
func TestPurgeInterval(t *testing.T) {
	pool := migrated(t, "purgebg_")
	st := newStore(t, pool, idempg.WithTablePrefix("purgebg_"), idempg.WithPurgeInterval(50*time.Millisecond, 4))
	fill(t, st, 10, 30*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for rows(t, pool, "purgebg_records") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d expired records left after 5 s of background purging", rows(t, pool, "purgebg_records"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	fill(t, st, 3, time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	if r := rows(t, pool, "purgebg_records"); r != 3 {
		t.Fatalf("records = %d after Close, want 3 (the purger stopped)", r)
	}
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	pool := newPool(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- idempg.Migrate(ctx, pool, idempg.WithTablePrefix("mig_"))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	if err := idempg.Migrate(ctx, pool, idempg.WithTablePrefix("mig_")); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	st := newStore(t, pool, idempg.WithTablePrefix("mig_"))
	if res := claim(t, st, testKey(t), time.Minute); res.Outcome != core.OutcomeOriginal {
		t.Fatalf("Begin on migrated tables = %v", res.Outcome)
	}
	// A store whose tables were never migrated fails, never creates them.
	bare := newStore(t, pool, idempg.WithTablePrefix("never_"))
	if _, err := bare.Begin(ctx, "k", core.Attempt{Lease: time.Minute, TTL: time.Minute}); !errors.Is(err, core.ErrStoreUnavailable) {
		t.Fatalf("Begin without Migrate = %v, want ErrStoreUnavailable", err)
	}
}

func TestOptionsValidated(t *testing.T) {
	for _, o := range []idempg.Option{
		idempg.WithTablePrefix("Bad-Prefix"),
		idempg.WithTablePrefix("x; DROP TABLE y"),
		idempg.WithTablePrefix(""),
		idempg.WithPurgeInterval(-time.Second, 0),
	} {
		if _, err := idempg.New(&pgxpool.Pool{}, o); !errors.Is(err, core.ErrInvalidOption) {
			t.Fatalf("New = %v, want ErrInvalidOption", err)
		}
	}
	if _, err := idempg.New(nil); !errors.Is(err, core.ErrInvalidOption) {
		t.Fatalf("New(nil) = %v, want ErrInvalidOption", err)
	}
}
