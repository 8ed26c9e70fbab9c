package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bytedance/sonic"
	"github.com/jackc/pgx/v5"

	"github.com/idemkit/idempotency/examples/internal/pgserver"
	"github.com/idemkit/idempotency/examples/internal/servertest"
	"github.com/idemkit/idempotency/examples/internal/shop"
)

// TestPostgresPaymentsCommitWithTheirRecord runs the example servers
// (gin, nethttp, echo, echov5, fiber: the binaries servertest builds) with
// -postgres, each on a database of its own, and counts the
// rows of the payments table after each step: a payment's row and its
// idempotency record commit together, so a replay, concurrent
// duplicates, a failure and a panic after the INSERT never leave a
// second row, or a row without its record.
func TestPostgresPaymentsCommitWithTheirRecord(t *testing.T) {
	t.Parallel()
	pg := pgserver.New(t) // fails in CI without the binaries, skips elsewhere
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())

	for _, name := range []string{"gin", "nethttp", "echo", "echov5", "fiber"} {
		t.Run(name, func(t *testing.T) {
			db := "shop_" + name
			if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
				t.Fatal(err)
			}
			srv := servertest.Start(t, name, "-postgres", pg.URL(db))
			if !strings.Contains(srv.Log.String(), `store="postgres postgres://postgres@127.0.0.1`) {
				t.Errorf("start-up log does not name the PostgreSQL store:\n%s", srv.Log)
			}
			conn, err := pgx.Connect(ctx, pg.URL(db))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			rows := func() int64 {
				t.Helper()
				var n int64
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM payments").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			client := &http.Client{Timeout: 30 * time.Second}
			defer client.CloseIdleConnections()
			pay := func(path, key string) servertest.Reply {
				t.Helper()
				r, err := servertest.Pay(ctx, client, srv.Base, path, key)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}

			// First payment: 201 Original and one row; its retry replays,
			// still one row.
			key := servertest.NewKey()
			first := pay("/payments", key)
			if first.Status != http.StatusCreated || first.Idem() != "Original" || !strings.Contains(first.Body, `"id":"pay_1"`) {
				t.Fatalf("first payment: %v", first)
			}
			if n := rows(); n != 1 {
				t.Fatalf("%d rows after the first payment, want 1", n)
			}
			again := pay("/payments", key)
			if again.Status != http.StatusCreated || again.Idem() != "Repeated" || again.Body != first.Body {
				t.Errorf("retry: %v, want the first payment repeated", again)
			}
			if n := rows(); n != 1 {
				t.Errorf("%d rows after the retry, want 1", n)
			}

			// 20 concurrent duplicates, while the original holds its
			// transaction open (delay=300ms runs after the INSERT): one row.
			key = servertest.NewKey()
			const dups = 20
			replies := make([]servertest.Reply, dups)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range dups {
				wg.Go(func() {
					<-start
					replies[i] = pay("/payments?delay=300ms", key)
				})
			}
			close(start)
			wg.Wait()
			originals := 0
			for i, r := range replies {
				switch {
				case r.Status == http.StatusCreated && r.Idem() == "Original":
					originals++
				case r.Status == http.StatusCreated && r.Idem() == "Repeated",
					r.Status == http.StatusConflict: // waited past the lock wait
				default:
					t.Errorf("duplicate %d: %v", i, r)
				}
			}
			if originals != 1 {
				t.Errorf("%d originals among %d concurrent duplicates, want 1", originals, dups)
			}
			if n := rows(); n != 2 {
				t.Errorf("%d rows after the concurrent duplicates, want 2", n)
			}

			// A handler that fails (fail=500) or panics (panic=1) after its
			// INSERT leaves no row: the transaction is rolled back with the
			// claim, which is released, so the retry runs afresh. Its
			// number shows the rolled-back INSERT did happen: the identity
			// skipped it.
			for i, sw := range []string{"fail=500", "panic=1"} {
				key = servertest.NewKey()
				// A panic is answered by the framework's recovery (500), or,
				// where that would send the held response's headers, by the
				// Engine's 503 not-committed (Gin).
				if r := pay("/payments?"+sw, key); r.Status != http.StatusInternalServerError &&
					(sw == "fail=500" || r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "not-committed")) {
					t.Errorf("%s: %v, want 500 (or 503 not-committed after a panic)", sw, r)
				}
				if n := rows(); n != 2+int64(i) {
					t.Errorf("%s: %d rows, want %d (the failed payment's row rolled back)", sw, n, 2+i)
				}
				retry := pay("/payments", key)
				want := []string{`"id":"pay_4"`, `"id":"pay_6"`}[i]
				if retry.Status != http.StatusCreated || retry.Idem() != "Original" || !strings.Contains(retry.Body, want) {
					t.Errorf("retry after %s: %v, want a fresh 201 with %s", sw, retry, want)
				}
				if n := rows(); n != 3+int64(i) {
					t.Errorf("after the retry of %s: %d rows, want %d", sw, n, 3+i)
				}
			}

			// GET /stats: the handler's executions, and the committed rows.
			resp, err := client.Get(srv.Base + "/stats")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var snap shop.Snapshot
			if err := sonic.ConfigStd.NewDecoder(resp.Body).Decode(&snap); err != nil {
				t.Fatal(err)
			}
			if snap.Committed == nil || snap.Committed.Payments != rows() || snap.Executions.Payments != 1+1+4 {
				t.Errorf("stats: %+v committed %+v, want 6 executions and %d committed", snap.Executions, snap.Committed, rows())
			}
		})
	}
}
