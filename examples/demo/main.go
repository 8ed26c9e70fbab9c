// Command demo runs every example app in this process, each on the
// in-memory store and a free loopback port, plays the idempotency
// scenarios against each with a real HTTP client, and prints what
// happened as a table:
//
//	go run ./examples/demo      # from the repository root
//	go run ./examples/demo -v   # also print response bodies
//	go run ./examples/demo -postgres postgres://user:pw@localhost/db
//
// With -postgres (a flag only: DATABASE_URL does not change the demo), a
// second table follows the first: the gin and net/http apps on the
// PostgreSQL store, with the payments written in the claim's transaction,
// showing for each step the payment rows and the idempotency record that
// committed together (or, for a failed run, neither). It works in
// schemas of its own, idemkit_demo_*, created and dropped by each run.
//
// It exits non-zero when any framework deviates from the expected
// outcome, so it doubles as an end-to-end smoke test of the adapters.
package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func main() {
	opts, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0) // as flag.Parse does after -h
	}
	if err != nil {
		os.Exit(2) // flag has printed the error and the usage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, os.Stdout, frameworks, opts.verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if opts.postgresURL != "" {
		pgOK, err := runPostgres(ctx, os.Stdout, opts.postgresURL, opts.verbose)
		if err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
			os.Exit(1)
		}
		ok = ok && pgOK
	}
	if !ok {
		os.Exit(1)
	}
}

// options are the demo's flags.
type options struct {
	verbose bool
	// postgresURL, when set, adds the PostgreSQL section (runPostgres).
	// Only the flag sets it, never DATABASE_URL, which the example
	// servers read: a developer's environment must not change what the
	// plain demo does.
	postgresURL string
}

// parseFlags reads the demo's flags from args, writing errors and the
// usage to stderr.
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.verbose, "v", false, "print response bodies")
	fs.StringVar(&o.postgresURL, "postgres", "",
		"also play the transactional steps on the PostgreSQL database at this URL (postgres://user:pw@host/db), in schemas the demo creates and drops (default: none; DATABASE_URL is not read)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	return o, nil
}

// row is one line of the table: one step against one framework.
type row struct {
	result
	exec    int64
	execErr error
}

func (r *row) ok(want int64) bool {
	return len(r.problems) == 0 && r.execErr == nil && r.exec == want
}

// run plays the scenarios against every framework, writes the table and a
// verdict per framework to w, and reports whether everything went as
// expected: every step as the scenario wants it, and every framework
// answering every step exactly like the first one. An error means the
// demo itself could not run.
func run(ctx context.Context, w io.Writer, fws []framework, verbose bool) (bool, error) {
	steps := scenarios()
	rows, sent, err := playAll(ctx, fws, steps)
	if err != nil {
		return false, err
	}
	differs, diffs := compare(fws, steps, rows)

	names := make([]string, len(fws))
	for i, fw := range fws {
		names[i] = fw.name
	}
	fmt.Fprintf(w, "idemkit demo: %d scenarios against %s, in-memory store, records signed with the demo's fixed public key (demo only), user %q\n\n",
		len(steps), strings.Join(names, ", "), demoUser)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "#\tSCENARIO\tFRAMEWORK\tHTTP\tIDEMPOTENCY-STATUS\tEXECUTIONS\tCHECK\tWHY"
	if verbose {
		header += "\tBODY"
	}
	fmt.Fprintln(tw, header)
	for s, st := range steps {
		for f, fw := range fws {
			r := &rows[f][s]
			exec := strconv.FormatInt(r.exec, 10)
			switch {
			case r.execErr != nil:
				exec = "?"
			case r.exec != st.wantExec:
				exec += fmt.Sprintf(" (want %d)", st.wantExec)
			}
			if st.endpoint != shop.Payments {
				exec += " " + st.endpoint.String()
			}
			check := "ok"
			switch {
			case !r.ok(st.wantExec):
				check = "FAIL"
			case differs[f][s]:
				check = "DIFF" // as expected, but not what the first framework answered
			}
			line := fmt.Sprintf("%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s", s+1, st.name, fw.name, r.status, r.idem, exec, check, r.why)
			if verbose {
				line += "\t" + oneLine(r.body)
			}
			fmt.Fprintln(tw, line)
		}
	}
	if err := tw.Flush(); err != nil {
		return false, err
	}

	allOK := true
	fmt.Fprintln(w)
	for f, fw := range fws {
		last := len(steps) - 1
		want, got := steps[last].wantExec, rows[f][last].exec
		var failed []string
		for s, st := range steps {
			r := &rows[f][s]
			if r.ok(st.wantExec) {
				continue
			}
			for _, p := range r.problems {
				failed = append(failed, fmt.Sprintf("  step %d (%s): %s", s+1, st.name, p))
			}
			if r.execErr != nil {
				failed = append(failed, fmt.Sprintf("  step %d (%s): reading /stats: %v", s+1, st.name, r.execErr))
			} else if r.exec != st.wantExec {
				failed = append(failed, fmt.Sprintf("  step %d (%s): %d executions, want %d", s+1, st.name, r.exec, st.wantExec))
			}
		}
		if len(failed) == 0 {
			fmt.Fprintf(w, "%s: OK, the payment handler ran %d times for %d requests (expected %d); every step as expected\n",
				fw.name, got, sent[f], want)
			continue
		}
		allOK = false
		fmt.Fprintf(w, "%s: FAILED, the payment handler ran %d times (expected %d); deviations:\n%s\n",
			fw.name, got, want, strings.Join(failed, "\n"))
	}
	if len(fws) > 1 {
		if len(diffs) == 0 {
			fmt.Fprintf(w, "%s: IDENTICAL, every step byte for byte: status, body, Idempotency-Status, Content-Type, Location, Cache-Control, Retry-After and Set-Cookie presence (X-Request-Id aside: fresh on every response)\n",
				strings.Join(names, " = "))
		} else {
			allOK = false
			fmt.Fprintf(w, "%s: DIFFERENT answers to the same requests:\n%s\n",
				strings.Join(names, " vs "), strings.Join(diffs, "\n"))
		}
	}
	return allOK, nil
}

// playAll plays steps against each framework in turn, every one on a
// fresh store and shop and with the same key sequence. It returns the
// rows per framework and step, and the POST requests sent per framework.
func playAll(ctx context.Context, fws []framework, steps []step) ([][]row, []int64, error) {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // never fails
	rows := make([][]row, len(fws))
	sent := make([]int64, len(fws))
	for i, fw := range fws {
		var err error
		if rows[i], sent[i], err = play(ctx, fw, steps, seed); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", fw.name, err)
		}
	}
	return rows, sent, nil
}

// compare checks that every framework answered every step exactly like
// the first one (see signature). differs[f][s] is true when framework f
// did not on step s; diffs describes each such case.
func compare(fws []framework, steps []step, rows [][]row) (differs [][]bool, diffs []string) {
	differs = make([][]bool, len(fws))
	for f := range fws {
		differs[f] = make([]bool, len(steps))
		if f == 0 {
			continue
		}
		for s, st := range steps {
			ref, got := rows[0][s].sig, rows[f][s].sig
			if got == ref {
				continue
			}
			differs[f][s] = true
			diffs = append(diffs, fmt.Sprintf("  step %d (%s):\n    %-6s %s\n    %-6s %s", s+1, st.name, fws[0].name, ref, fws[f].name, got))
		}
	}
	return differs, diffs
}

// play starts fw on a fresh store and shop and runs every step against
// it, with keys drawn from seed. It returns a row per step and the number
// of POST requests sent.
func play(ctx context.Context, fw framework, steps []step, seed [32]byte) ([]row, int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	store := &outageStore{Store: memory.New()}
	stop, err := fw.start(ln, store, shop.New())
	if err != nil {
		ln.Close()
		return nil, 0, err
	}
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: duplicates},
	}
	defer func() {
		client.CloseIdleConnections()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stop(sctx)
	}()

	t := &target{base: "http://" + ln.Addr().String(), client: client, store: store, keys: rand.NewChaCha8(seed)}
	rows := make([]row, len(steps))
	for i, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, 0, errors.New("interrupted")
		}
		rows[i].result = st.play(ctx, t)
		rows[i].exec, rows[i].execErr = t.executions(ctx, st.endpoint)
	}
	return rows, t.sent.Load(), nil
}

// oneLine keeps a body from breaking the table's layout.
func oneLine(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(s)
}
