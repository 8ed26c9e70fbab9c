package idempg_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// crashLease is the Engine's lease in the crashing client.
const crashLease = time.Second

// TestCrashBeforeCommitLeavesNeither re-executes the test binary as a
// client whose Engine claims a key and runs an operation that writes its
// payment in the claim's transaction, says so and waits; it is killed
// (SIGKILL) before the commit. Neither the payment nor a completed record
// survives it; once the lease has run out, a retry takes the claim over
// and pays exactly once.
func TestCrashBeforeCommitLeavesNeither(t *testing.T) {
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	eng := newEngine(t, st, core.WithLockWait(0))
	ctx := ctxT(t)
	k := doKey()
	sk := core.StoreKey("pay", k)

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"=1", "IDEMPG_DSN="+srv.DSN, "IDEMPG_KEY="+k)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	lines := bufio.NewScanner(out)
	found := false
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "INSERTED") {
			found = true
			break
		}
	}
	if !found {
		t.Fatal("the child never wrote its payment")
	}
	// The child's claim is in flight and its payment written but not
	// committed: now it dies.
	if rec, err := st.Get(ctx, sk); err != nil || rec.State != core.StateInFlight {
		t.Fatalf("record before the crash = %v, %v", rec.State, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()

	if n := paid(t, pool, k); n != 0 {
		t.Fatalf("payments after the crash = %d, want 0", n)
	}
	rec, err := st.Get(ctx, sk)
	if err != nil || rec.State != core.StateInFlight {
		t.Fatalf("record after the crash = %v, %v; want the dead claim, never completed", rec.State, err)
	}
	var runs atomic.Int32
	// A retry during the dead claim's lease finds it in flight.
	if _, _, err := eng.Do(ctx, "pay", k, fpOf("a"), payFn(k, &runs)); !errors.Is(err, core.ErrInFlight) {
		t.Fatalf("retry during the dead claim's lease = %v, want ErrInFlight", err)
	}
	time.Sleep(time.Until(rec.LeaseUntil) + 50*time.Millisecond)
	res, replayed, err := eng.Do(ctx, "pay", k, fpOf("a"), payFn(k, &runs))
	if err != nil || replayed || string(res) != "paid" {
		t.Fatalf("retry after the lease = %q, replayed %v, %v", res, replayed, err)
	}
	if runs.Load() != 1 || paid(t, pool, k) != 1 {
		t.Fatalf("runs %d, payments %d after the retry; want exactly 1 and 1", runs.Load(), paid(t, pool, k))
	}
	if res, replayed, err := eng.Do(ctx, "pay", k, fpOf("a"), payFn(k, &runs)); err != nil || !replayed || string(res) != "paid" {
		t.Fatalf("replay = %q, replayed %v, %v", res, replayed, err)
	}
}

// TestCrashChild is the crashing client of TestCrashBeforeCommitLeavesNeither,
// run only in the re-executed binary.
func TestCrashChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the crash test's child process")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("IDEMPG_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := idempg.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	eng := newEngine(t, st, core.WithLease(crashLease))
	k := os.Getenv("IDEMPG_KEY")
	_, _, err = eng.Do(ctx, "pay", k, fpOf("a"), func(ctx context.Context) ([]byte, error) {
		if err := pay(ctx, k); err != nil {
			return nil, err
		}
		fmt.Println("INSERTED")
		time.Sleep(time.Minute) // killed here, before the commit
		return []byte("paid"), nil
	})
	t.Fatalf("the child was not killed: %v", err)
}
