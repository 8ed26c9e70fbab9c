package idempg_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// crashLease is the lease of the claim the crashing client makes.
const crashLease = 300 * time.Millisecond

// TestCrashBeforeCommitLeavesNeither re-executes the test binary as a
// client that claims a key, writes its payment in the claim's transaction,
// says so and waits; it is killed (SIGKILL) before it commits. Neither the
// payment nor a completed record survives it; once the lease has run out
// a retry takes the claim over and pays exactly once.
func TestCrashBeforeCommitLeavesNeither(t *testing.T) {
	withoutEngine(t)
	pool := newPool(t)
	payments(t, pool)
	st := newStore(t, pool)
	ctx := ctxT(t)
	k := testKey(t)

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
	// The child's claim is in flight and its payment is written but not
	// committed: now it dies.
	if rec, err := st.Get(ctx, k); err != nil || rec.State != core.StateInFlight {
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
	rec, err := st.Get(ctx, k)
	if err != nil || rec.State != core.StateInFlight {
		t.Fatalf("record after the crash = %v, %v; want the dead claim, never completed", rec.State, err)
	}
	dead := rec.Token

	// A retry during the lease sees the claim in flight.
	if res := claim(t, st, k, time.Minute); res.Outcome != core.OutcomeConflict {
		t.Fatalf("retry during the dead claim's lease = %v, want in flight", res.Outcome)
	}
	time.Sleep(time.Until(rec.LeaseUntil) + 50*time.Millisecond)
	retry := claim(t, st, k, time.Minute)
	if retry.Outcome != core.OutcomeOriginal || !retry.TookOver || retry.Token == dead {
		t.Fatalf("retry after the lease = %+v, want a takeover", retry)
	}
	hctx, c := claimTx(t, st, ctx, k, retry.Token)
	if err := pay(hctx, k); err != nil { // would block on the dead client's row lock if it survived
		t.Fatal(err)
	}
	if err := c.Complete(ctx, core.StateCompleted, []byte("paid"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := paid(t, pool, k); n != 1 {
		t.Fatalf("payments after the retry = %d, want exactly 1", n)
	}
	if res := claim(t, st, k, time.Minute); res.Outcome != core.OutcomeRepeated || string(res.Record.Payload) != "paid" {
		t.Fatalf("replay = %v %q", res.Outcome, res.Record.Payload)
	}
}

// TestCrashChild is the crashing client of TestCrashBeforeCommitLeavesNeither,
// run only in the re-executed binary.
func TestCrashChild(t *testing.T) {
	if os.Getenv(childEnv) == "" {
		t.Skip("the crash test's child process")
	}
	withoutEngine(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("IDEMPG_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := idempg.New(pool)
	if err != nil {
		t.Fatal(err)
	}
	k := os.Getenv("IDEMPG_KEY")
	res, err := st.Begin(ctx, k, core.Attempt{Fingerprint: fpOf("a"), Nonce: 7, Lease: crashLease, TTL: time.Minute})
	if err != nil || res.Outcome != core.OutcomeOriginal {
		t.Fatalf("child's Begin = %+v, %v", res, err)
	}
	hctx, _ := st.ClaimTx(ctx, k, res.Token)
	if err := pay(hctx, k); err != nil {
		t.Fatal(err)
	}
	fmt.Println("INSERTED")
	time.Sleep(time.Minute) // killed here, before the commit
}
