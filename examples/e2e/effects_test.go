package e2e

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/servertest"
	idemredis "github.com/idemkit/idempotency/storage/redis"
	"github.com/idemkit/idempotency/storage/redis/redistest"
)

// TestOwnerKilledAfterEffects: an instance killed (SIGKILL, no clean-up)
// after its payment declared effects must not let another instance run
// the payment again when the lease runs out, as TestLeaseTakeover does
// for a payment that had not got that far: the card may have been
// charged. Two instances on one Redis run with -lease 1s. The first runs
// POST /payments?effects=1&delay=3s (effects declared, then a stall) and
// is killed during the stall. Past the lease, the second answers 423
// operation-uncertain and runs nothing, however often it is asked, until
// an operator releases the key with idemctl resolve -release; then the
// next retry runs once and the one after replays it.
func TestOwnerKilledAfterEffects(t *testing.T) {
	t.Parallel()
	rds := redistest.StartProcess(t)
	url := "redis://" + rds.Addr + "/0"
	args := []string{"-redis", url, "-lease", "1s", "-lock-wait", "100ms"}
	a, b := servertest.Start(t, "gin", args...), servertest.Start(t, "gin", args...)
	client := &http.Client{Timeout: 15 * time.Second}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	// The operator's view of the key: the store the servers share.
	rdb := redis.NewClient(&redis.Options{Addr: rds.Addr, ContextTimeoutEnabled: true})
	defer rdb.Close()
	store := idemredis.New(rdb)
	key := servertest.NewKey()
	storeKey := core.StoreKey(core.ScopeString(core.ScopeUserRoute, "alice", http.MethodPost, "/payments", ""), key)

	const path = "/payments?effects=1&delay=3s"
	owner := make(chan servertest.Reply, 1)
	go func() {
		if r, err := servertest.Pay(ctx, client, a.Base, path, key); err == nil { // fails when a dies
			owner <- r
		}
	}()
	// The execution counter moves before the declaration's round trip:
	// wait for the committed mark itself, or the kill could land before
	// it and the takeover would be right.
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec, err := store.Get(ctx, storeKey)
		if err == nil && rec.State == core.StateInFlight && rec.Committed {
			break
		}
		select {
		case r := <-owner:
			t.Fatalf("the payment answered before its claim was seen committed: %v\n%s", r, a.Log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the payment's claim was not committed within 10s: %+v, %v\n%s", rec, err, a.Log)
		}
	}
	if err := a.Cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-a.Done()
	killed := time.Now()

	// Until the lease runs out the claim still looks alive (409); after
	// it, the key is uncertain, never taken over.
	var r servertest.Reply
	for {
		var err error
		if r, err = servertest.Pay(ctx, client, b.Base, path, key); err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusConflict {
			break
		}
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("still 409 %v after the owner was killed, with -lease 1s", time.Since(killed).Round(time.Millisecond))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("first answer after the lease, %v after the kill: %v", time.Since(killed).Round(time.Millisecond), r)
	for i := range 3 {
		if i > 0 {
			var err error
			if r, err = servertest.Pay(ctx, client, b.Base, path, key); err != nil {
				t.Fatal(err)
			}
		}
		if err := checkProblem(r, http.StatusLocked, core.ProblemOperationUncertain); err != nil {
			t.Errorf("retry %d on the second instance: %v", i+1, err)
		}
	}
	if n := b.MustStats(t).Payments; n != 0 {
		t.Fatalf("the second instance ran the payment %d times, want 0: a payment that may have charged ran again", n)
	}
	rec, err := store.Get(ctx, storeKey)
	if err != nil || rec.State != core.StateUncertain {
		t.Errorf("record after the retries: %+v, %v; want uncertain", rec, err)
	}

	// The operator checked with the provider that nothing was charged and
	// releases the key with the CLI, on the same Redis.
	scope := core.ScopeString(core.ScopeUserRoute, "alice", http.MethodPost, "/payments", "")
	cmd := exec.CommandContext(ctx, servertest.Idemctl(t), "-redis", url, "-timeout", "10s", "resolve", "-scope", scope, "-key", key, "-release")
	cmd.Env = append(os.Environ(), "REDIS_URL=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "released uncertain record") {
		t.Fatalf("idemctl resolve: %v (status %d)\n%s", err, servertest.ExitCode(err), out)
	}
	t.Logf("idemctl resolve: %s", strings.TrimSpace(string(out)))
	if _, err := store.Get(ctx, storeKey); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("record after the release: %v, want none", err)
	}
	for i, want := range []string{"Original", "Repeated"} {
		r, err := servertest.Pay(ctx, client, b.Base, path, key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusCreated || r.Idem() != want {
			t.Errorf("request %d after the release: %v, want 201 %s", i+1, r, want)
		}
	}
	if n := b.MustStats(t).Payments; n != 1 {
		t.Errorf("the second instance ran the payment %d times after the release, want 1", n)
	}
}

// checkProblem checks that r is the idempotency middleware's RFC 9457
// problem of kind with status, from a request that ran nothing.
func checkProblem(r servertest.Reply, status int, kind core.ProblemKind) error {
	var problems []string
	if r.Status != status {
		problems = append(problems, "status "+http.StatusText(r.Status)+", want "+http.StatusText(status))
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		problems = append(problems, "Content-Type "+ct)
	}
	if want := `"type":"` + core.ProblemTypeBase + string(kind) + `"`; !strings.Contains(r.Body, want) {
		problems = append(problems, "body lacks "+want)
	}
	if r.Idem() != "" {
		problems = append(problems, "Idempotency-Status "+r.Idem())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; ") + ": " + r.String())
	}
	return nil
}
