// Command load sends concurrent idempotent requests to one or more
// example servers (or a deployment of your own) and checks that no key
// ran twice.
//
//	go run ./examples/load [-target URL]... [-clients 16] [-keys 1000] [-dups 3]
//	    [-duration 10s] [-requests N] [-mode mixed|first|replay] [-json]
//
// Each of -keys keys (a fresh UUID per run) is sent -dups times by
// -clients concurrent clients on keep-alive connections, a key's
// duplicates a few requests apart (often in flight together) and the last
// one later (a replay). Requests go round robin (or -pick random) over the
// -target URLs, which is how several instances sharing one Redis are
// checked. Mode first sends every key once (first-request throughput);
// mode replay sends every key once unmeasured, then -dups replays of
// each, measured on their own (replay throughput).
//
// It reports requests/s, p50/p90/p99/max latency, the status codes and
// Idempotency-Status values, and the handler's executions: the delta of
// GET -stats-path's "executions" counter (named after -path's last
// segment, or -stats-counter) over the run, summed over the targets.
//
// Exit status: 0 when no key ran twice and every request got an answer;
// 1 when a key ran more than once: two responses marked
// "Idempotency-Status: Original" for one key, different 2xx bodies for
// one key, or more executions than keys that got an Original (plus keys
// whose only answers were lost, which may have run unseen); 2 for bad
// flags or when the counters cannot be read; 3 when no key ran twice but
// some requests got no answer (connection errors, timeouts).
//
// With -suite e2e it runs the end-to-end suite of SPEC §7 instead (see
// suite.go and BENCHMARKS.md): it builds the example servers, starts
// redis-server on a free loopback port, serves each framework bare
// (-bare), on the memory store and on Redis, measures first-heavy and
// replay-heavy load in interleaved rounds, checks every answer (Expect),
// and prints req/s, p50 and p99 against bare with the targets met or not.
//
//	go run ./examples/load -suite e2e [-frameworks gin,echo,fiber] [-stores memory,redis]
//	    [-modes first,replay] [-rounds 3] [-duration 5s] [-clients 16] [-out bench/e2e.txt]
//
// It never retries a request, and refuses more than 1024 clients, 5m,
// 1e6 keys, 1000 duplicates, 5e6 requests or a 1m timeout without
// -force.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK         = 0
	exitDoubleRun  = 1
	exitUsage      = 2
	exitUnanswered = 3
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main with its exit status returned.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if isSuite(args) {
		return runSuite(ctx, args, stdout, stderr)
	}
	cfg, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return exitUsage
	}
	rep, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return exitUsage
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
	}
	return exitCode(rep)
}

func exitCode(rep *Report) int {
	switch {
	case !rep.OK:
		return exitDoubleRun
	case rep.Errors > 0:
		return exitUnanswered
	}
	return exitOK
}

// listValue is a repeatable, comma-separated flag.
type listValue struct {
	p   *[]string
	set bool // the default is replaced by the first -flag, not appended to
}

func (v *listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *listValue) Set(s string) error {
	if !v.set {
		*v.p, v.set = nil, true
	}
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			*v.p = append(*v.p, e)
		}
	}
	return nil
}

// headerValue is a repeatable "Name: value" flag.
type headerValue struct{ h http.Header }

func (v *headerValue) String() string { return "" }

func (v *headerValue) Set(s string) error {
	name, val, ok := strings.Cut(s, ":")
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want Name: value, got %q", s)
	}
	v.h.Add(strings.TrimSpace(name), strings.TrimSpace(val))
	return nil
}

func parseFlags(args []string, output io.Writer) (Config, bool, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Var(&listValue{p: &cfg.Targets}, "target", "base `URL` of a server; repeat or comma-separate for several instances (default http://127.0.0.1:8080)")
	fs.StringVar(&cfg.Path, "path", cfg.Path, "route to POST to (a query such as ?delay=5ms is kept)")
	fs.StringVar(&cfg.Body, "body", cfg.Body, "JSON request body, the same for every request")
	fs.StringVar(&cfg.KeyHeader, "key-header", cfg.KeyHeader, "header carrying the key (X-Webhook-ID for /webhooks)")
	fs.StringVar(&cfg.User, "user", cfg.User, "X-User-ID header, empty for none")
	headers := &headerValue{h: http.Header{}}
	fs.Var(headers, "header", "extra request header `Name: value`, repeatable (e.g. for a staging gateway)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent clients, each on its own keep-alive connection")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "distinct keys (mode first: 0 for a new key per request until -duration or -requests)")
	fs.IntVar(&cfg.Dups, "dups", cfg.Dups, "requests per key (mode mixed) or replays per key (mode replay); mode first sends 1")
	fs.IntVar(&cfg.Requests, "requests", cfg.Requests, "cap on the measured requests, 0 for keys x dups")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "cap on each phase's duration; requests in flight then finish")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per-request timeout (requests are never retried)")
	fs.StringVar(&cfg.Mode, "mode", cfg.Mode, "mixed (duplicates interleaved), first (each key once) or replay (warm each key, then measure replays)")
	fs.StringVar(&cfg.Pick, "pick", cfg.Pick, "how a request picks its target: roundrobin or random")
	fs.StringVar(&cfg.StatsPath, "stats-path", cfg.StatsPath, "GET route with {\"executions\":{name:N}}")
	fs.StringVar(&cfg.Counter, "stats-counter", "", "counter `name` in executions (default: -path's last segment)")
	fs.BoolVar(&cfg.NoStats, "no-stats", false, "do not read the execution counters (and skip that check)")
	fs.BoolVar(&cfg.Force, "force", false, "allow values over the safety limits")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(headers.h) > 0 {
		cfg.Headers = headers.h
	}
	return cfg, *asJSON, cfg.Validate()
}
