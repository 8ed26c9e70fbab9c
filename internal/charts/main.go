// Command charts renders the PNGs of docs/bench (embedded in
// BENCHMARKS.md) from the benchmark output in bench/ (make bench-all):
//
//	adapters.png     Gin, Echo and Fiber: time and allocations per request,
//	                 idemkit against its baseline (the bare handler; Fiber's
//	                 own idempotency middleware) and SPEC §7's ceiling
//	fingerprint.png  canonical fingerprint vs raw SHA-256 throughput by body size
//	e2e.png          end to end: req/s and p99 of bare, memory and Redis
//
//	cd internal/charts && go run . -in ../../bench -out ../../docs/bench
//
// Inputs: every *.txt and *.csv under -in, read as `go test -bench` text
// or `benchstat -format csv` (by content), and the end-to-end suite's
// results (files with "summary" records, go run ./examples/load -suite
// e2e -out bench/e2e.txt). A chart whose data is missing is skipped with
// a note. It is its own module so that the plotting library never enters
// a published module's graph.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "charts:", err)
		os.Exit(1)
	}
}

func run(args []string, log io.Writer) error {
	fs := flag.NewFlagSet("charts", flag.ContinueOnError)
	in := fs.String("in", "bench", "`dir` of benchmark output (go test -bench text, benchstat CSV, e2e results)")
	out := fs.String("out", "docs/bench", "`dir` to write the PNGs to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	res, e2e, err := load(*in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	charts := []struct {
		file   string
		render func() ([]byte, error)
	}{
		{"adapters.png", func() ([]byte, error) { return Adapters(res) }},
		{"fingerprint.png", func() ([]byte, error) { return Fingerprint(res) }},
		{"e2e.png", func() ([]byte, error) { return EndToEnd(e2e) }},
	}
	for _, c := range charts {
		b, err := c.render()
		if errors.Is(err, errNoData) {
			fmt.Fprintf(log, "charts: %s skipped: %v\n", c.file, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c.file, err)
		}
		p := filepath.Join(*out, c.file)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "charts: wrote %s\n", p)
	}
	return nil
}

// load reads every input file of dir.
func load(dir string) (Results, []E2E, error) {
	res := Results{}
	var e2e []E2E
	var files []string
	for _, pat := range []string{"*.txt", "*.csv"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, nil, err
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("no *.txt or *.csv in %s (make bench-all writes them)", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		if strings.Contains(string(b), "\nsummary ") || strings.HasPrefix(string(b), "summary ") {
			rows, err := ParseE2E(bytes.NewReader(b))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f, err)
			}
			e2e = append(e2e, rows...)
			continue
		}
		if err := Parse(b, res); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
	}
	return res, e2e, nil
}
