package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/pgshop"
	"github.com/idemkit/idempotency/examples/internal/serve"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idempg "github.com/idemkit/idempotency/storage/postgres"
)

// pgFrameworks are the apps of the PostgreSQL section: the reference and
// the plain net/http one, each in a schema of its own.
var pgFrameworks = []framework{
	{name: "gin", start: startGin},
	{name: "nethttp", start: startNetHTTP},
}

// pgSchemaPrefix starts the name of every schema the demo creates, one
// per framework and run, so that a rerun starts from empty tables and the
// demo never touches (or drops) a table it did not create.
const pgSchemaPrefix = "idemkit_demo_"

// pgStep is one step of the PostgreSQL section. Each uses a key of its
// own, except the retries, which send an earlier step's key again.
type pgStep struct {
	name  string
	query string // the payment's query string: the demo's fault switches
	// reuse is the index of the earlier step whose key this one sends
	// again; -1 for a new key.
	reuse int
	// What the step must leave: the response, the handler's executions,
	// the committed payment rows, and the key's idempotency record
	// ("none" when it has none).
	wantStatus int
	wantIdem   string
	wantExec   int64
	wantRows   int64
	wantRecord string
	why        string
}

// pgSteps are the PostgreSQL section's steps, in order.
func pgSteps() []pgStep {
	return []pgStep{
		{name: "first payment", reuse: -1, wantStatus: http.StatusCreated, wantIdem: "Original", wantExec: 1, wantRows: 1, wantRecord: "completed (201)",
			why: "row and record committed in one transaction"},
		{name: "retry, same key and body", reuse: 0, wantStatus: http.StatusCreated, wantIdem: "Repeated", wantExec: 1, wantRows: 1, wantRecord: "completed (201)",
			why: "replayed from the record: no second row"},
		{name: "fails after its INSERT", query: "fail=500", reuse: -1, wantStatus: http.StatusInternalServerError, wantIdem: "Original", wantExec: 2, wantRows: 1, wantRecord: "none",
			why: "fail=500 after the INSERT: row rolled back, key released"},
		{name: "retry of the released key", reuse: 2, wantStatus: http.StatusCreated, wantIdem: "Original", wantExec: 3, wantRows: 2, wantRecord: "completed (201)",
			why: "fault gone: runs afresh, one row"},
	}
}

// pgRow is one line of the PostgreSQL table.
type pgRow struct {
	result
	exec, rows int64
	record     string
}

// runPostgres plays pgSteps against each of pgFrameworks on the
// PostgreSQL database at rawURL, with the payments written in the claims'
// transactions (pgshop), and writes their table to w. It reports whether
// every step left what it should; an error means it could not run.
func runPostgres(ctx context.Context, w io.Writer, rawURL string, verbose bool) (bool, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return false, fmt.Errorf("%w %s", serve.ErrPostgresURL, serve.RedactURL(rawURL)) // pgx's error may quote the password
	}
	steps := pgSteps()
	rows := make([][]pgRow, len(pgFrameworks))
	schemas := make([]string, len(pgFrameworks))
	for i, fw := range pgFrameworks {
		if rows[i], schemas[i], err = playPostgres(ctx, cfg, fw, steps); err != nil {
			return false, fmt.Errorf("postgres %s, %s: %w", serve.RedactURL(rawURL), fw.name, err)
		}
	}

	fmt.Fprintf(w, "\nPostgreSQL %s: %d steps against %s, payments written in the claim's transaction (schemas %s, created for this run and dropped after)\n\n",
		serve.RedactURL(rawURL), len(steps), frameworkNames(pgFrameworks), strings.Join(schemas, ", "))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "#\tSTEP\tFRAMEWORK\tHTTP\tIDEMPOTENCY-STATUS\tEXECUTIONS\tPAYMENT ROWS\tRECORD\tCHECK\tWHY"
	if verbose {
		header += "\tBODY"
	}
	fmt.Fprintln(tw, header)
	allOK := true
	var failed []string
	for s, st := range steps {
		for f, fw := range pgFrameworks {
			r := &rows[f][s]
			check := "ok"
			if len(r.problems) > 0 {
				check, allOK = "FAIL", false
				for _, p := range r.problems {
					failed = append(failed, fmt.Sprintf("  %s step %d (%s): %s", fw.name, s+1, st.name, p))
				}
			} else if ref := rows[0][s].sig; r.sig != ref {
				// As expected, but not byte for byte what the reference
				// answered (ids match: every framework has fresh tables).
				check, allOK = "DIFF", false
				failed = append(failed, fmt.Sprintf("  %s step %d (%s):\n    %-7s %s\n    %-7s %s",
					fw.name, s+1, st.name, pgFrameworks[0].name, ref, fw.name, r.sig))
			}
			line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s", s+1, st.name, fw.name, r.status, r.idem, r.exec, r.rows, r.record, check, st.why)
			if verbose {
				line += "\t" + oneLine(r.body)
			}
			fmt.Fprintln(tw, line)
		}
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}
	fmt.Fprintln(w)
	if allOK {
		fmt.Fprintf(w, "postgres: OK, every payment row committed with its idempotency record, every failed run left neither; %s answered alike, byte for byte\n",
			strings.ReplaceAll(frameworkNames(pgFrameworks), ", ", " = "))
	} else {
		fmt.Fprintf(w, "postgres: FAILED, deviations:\n%s\n", strings.Join(failed, "\n"))
	}
	return allOK, nil
}

func frameworkNames(fws []framework) string {
	names := make([]string, len(fws))
	for i, fw := range fws {
		names[i] = fw.name
	}
	return strings.Join(names, ", ")
}

// playPostgres creates a fresh schema, migrates idempg's and pgshop's
// tables into it, serves fw on them and plays steps, then drops the
// schema. It returns a row per step and the schema's name.
func playPostgres(ctx context.Context, cfg *pgxpool.Config, fw framework, steps []pgStep) (_ []pgRow, schema string, err error) {
	var suffix [4]byte
	_, _ = crand.Read(suffix[:]) // never fails
	schema = fmt.Sprintf("%s%x", pgSchemaPrefix, suffix)
	ident := pgx.Identifier{schema}.Sanitize()

	// The schema is created on a connection of the URL's own settings,
	// then every connection of the store (its pool and its LISTEN
	// connection, a copy of the pool's config) finds the tables there
	// through search_path.
	cctx, cancel := context.WithTimeout(ctx, serve.PingTimeout) // a host that never answers
	conn, err := pgx.ConnectConfig(cctx, cfg.ConnConfig.Copy())
	cancel()
	if err != nil {
		return nil, schema, fmt.Errorf("%w: %w", serve.ErrPostgresUnreachable, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		return nil, schema, fmt.Errorf("create schema %s (the demo needs CREATE on the database): %w", schema, err)
	}
	defer func() {
		// Ours, created above: dropped even when ctx was cancelled.
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, derr := conn.Exec(dctx, "DROP SCHEMA "+ident+" CASCADE"); derr != nil && err == nil {
			err = fmt.Errorf("drop schema %s: %w", schema, derr)
		}
	}()

	pcfg := cfg.Copy()
	pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, schema, err
	}
	defer pool.Close()
	if err := idempg.Migrate(ctx, pool); err != nil {
		return nil, schema, err
	}
	if err := pgshop.Migrate(ctx, pool); err != nil {
		return nil, schema, err
	}
	// One request at a time: the pool's connections are never all held by
	// handlers, so renewals need no pool of their own (idempg.WithRenewPool).
	store, err := idempg.New(pool)
	if err != nil {
		return nil, schema, err
	}
	defer store.Close()
	ledger := pgshop.NewLedger(pool)
	s := shop.New()
	s.SetLedger(ledger)
	// The operator's view of the records: an Engine with the payment
	// route's options, as resolveUncertain uses.
	eng, err := core.New(shop.Options(store, shop.Payments, demoSigning())...)
	if err != nil {
		return nil, schema, err
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, schema, err
	}
	stop, err := fw.start(ln, store, s)
	if err != nil {
		ln.Close()
		return nil, schema, err
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer func() {
		client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	}()

	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails
	t := &target{base: "http://" + ln.Addr().String(), client: client, keys: rand.NewChaCha8(seed)}
	scope := core.ScopeString(core.ScopeUserRoute, demoUser, http.MethodPost, "/payments", "")
	keys := make([]string, len(steps))
	rows := make([]pgRow, len(steps))
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, schema, errors.New("interrupted")
		}
		keys[i] = t.newKey()
		if st.reuse >= 0 {
			keys[i] = keys[st.reuse]
		}
		path := "/payments"
		if st.query != "" {
			path += "?" + st.query
		}
		rp, err := t.post(ctx, path, keys[i], paymentBody)
		r := &rows[i]
		r.result = single(rp, err, st.wantStatus, st.wantIdem, st.why)
		var xerr error
		r.exec, xerr = t.executions(ctx, shop.Payments)
		r.expect(xerr == nil, "reading /stats: %v", xerr)
		r.expect(r.exec == st.wantExec, "%d executions, want %d", r.exec, st.wantExec)
		var rerr error
		r.rows, rerr = ledger.Payments(ctx)
		r.expect(rerr == nil, "counting payments: %v", rerr)
		r.expect(r.rows == st.wantRows, "%d payment rows, want %d", r.rows, st.wantRows)
		r.record = recordState(ctx, eng, scope, keys[i])
		r.expect(r.record == st.wantRecord, "record %s, want %s", r.record, st.wantRecord)
	}
	return rows, schema, nil
}

// recordState is the state of key's record as Engine.Inspect reads it:
// "none" without one, the error when it cannot be read.
func recordState(ctx context.Context, eng *core.Engine, scope, key string) string {
	in, err := eng.Inspect(ctx, scope, key)
	switch {
	case errors.Is(err, core.ErrNotFound):
		return "none"
	case err != nil:
		return "error: " + err.Error()
	}
	s := in.State.String()
	if in.State == core.StateCompleted && in.Response != nil {
		s += " (" + strconv.Itoa(in.Response.Status) + ")"
	}
	return s
}
