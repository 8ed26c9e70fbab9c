package main

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/idemkit/idempotency/examples/internal/pgserver"
	"github.com/idemkit/idempotency/examples/internal/serve"
)

// TestDemoPostgres runs the -postgres section on a real, private
// PostgreSQL and requires its rows: the payment rows and the idempotency
// record that each step left committed, on both apps. It runs twice on
// one database, as a developer reruns the demo, and requires the demo to
// leave no schema of its own behind and to keep the user's own tables.
func TestDemoPostgres(t *testing.T) {
	srv := pgserver.New(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// The user's own payments table, in the default schema: the demo must
	// neither write to it nor drop it.
	if _, err := conn.Exec(ctx, `CREATE TABLE payments (id int); INSERT INTO payments VALUES (42)`); err != nil {
		t.Fatal(err)
	}

	for run := 1; run <= 2; run++ {
		var out strings.Builder
		ok, err := runPostgres(ctx, &out, srv.DSN, false)
		t.Logf("run %d:\n%s", run, out.String())
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("run %d: the PostgreSQL section saw deviations", run)
		}
		for _, want := range []struct{ step, status, idem, exec, rows, record string }{
			{"first payment", "201", "Original", "1", "1", "completed (201)"},
			{"retry, same key and body", "201", "Repeated", "1", "1", "completed (201)"},
			{"fails after its INSERT", "500", "Original", "2", "1", "none"},
			{"retry of the released key", "201", "Original", "3", "2", "completed (201)"},
		} {
			for _, fw := range pgFrameworks {
				line := regexp.MustCompile(`(?m)^\d+\s+` + regexp.QuoteMeta(want.step) + `\s+` + fw.name + `\s+` +
					want.status + `\s+` + regexp.QuoteMeta(want.idem) + `\s+` + want.exec + `\s+` + want.rows + `\s+` +
					regexp.QuoteMeta(want.record) + `\s+ok\s`)
				if !line.MatchString(out.String()) {
					t.Errorf("run %d: no row %q for %s: %s %s, executions %s, %s payment rows, record %s",
						run, want.step, fw.name, want.status, want.idem, want.exec, want.rows, want.record)
				}
			}
		}
		if !strings.Contains(out.String(), "postgres: OK") || !strings.Contains(out.String(), "gin = nethttp answered alike, byte for byte") {
			t.Errorf("run %d: no OK verdict", run)
		}
	}

	var schemas int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'idemkit\_demo\_%'`).Scan(&schemas); err != nil {
		t.Fatal(err)
	}
	if schemas != 0 {
		t.Errorf("%d idemkit_demo_ schemas left behind, want none", schemas)
	}
	var ids []int
	rows, err := conn.Query(ctx, `SELECT id FROM payments`)
	if err != nil {
		t.Fatalf("the user's payments table: %v", err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil || len(ids) != 1 || ids[0] != 42 {
		t.Errorf("the user's payments table holds %v (%v), want [42] untouched", ids, err)
	}
}

// The PostgreSQL section is opt-in by the flag alone: DATABASE_URL, which
// the example servers read, leaves the plain demo as it is.
func TestParseFlags(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://env@localhost/db")
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o != (options{}) {
		t.Errorf("no flags with DATABASE_URL set: %+v, %v, want the plain demo", o, err)
	}
	o, err = parseFlags([]string{"-v", "-postgres", "postgres://flag@localhost/db"}, io.Discard)
	if err != nil || o != (options{verbose: true, postgresURL: "postgres://flag@localhost/db"}) {
		t.Errorf("-v -postgres: %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"-postgres"}, io.Discard); err == nil {
		t.Error("-postgres without a URL accepted")
	}
}

// A malformed URL is refused before anything runs, without its password.
func TestDemoPostgresBadURL(t *testing.T) {
	var out strings.Builder
	_, err := runPostgres(context.Background(), &out, "postgres://u:s3cret@localhost:port/db", false)
	if !errors.Is(err, serve.ErrPostgresURL) || strings.Contains(err.Error(), "s3cret") || out.Len() != 0 {
		t.Errorf("malformed URL: %v, output %q; want ErrPostgresURL without the password, and no output", err, out.String())
	}
}
