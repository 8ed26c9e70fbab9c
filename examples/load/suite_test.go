package main

import (
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idemkit/idempotency/storage/memory"
)

// TestExpect: the suite's per-run check passes the middleware's answers
// and the bare baseline's, each only as what it is: a bare server
// measured as a middleware (or the reverse) fails, as does a bypass.
func TestExpect(t *testing.T) {
	srv, _ := ginServer(t, memory.New())
	cfg := testConfig(srv.URL)
	cfg.Mode, cfg.Keys, cfg.Requests = ModeFirst, 0, 200
	first := mustRun(t, cfg)
	if err := Expect(first, false); err != nil {
		t.Errorf("first: %v", err)
	}
	if err := Expect(first, true); err == nil {
		t.Error("first requests through the middleware pass as bare")
	}

	cfg = testConfig(srv.URL)
	cfg.Mode, cfg.Keys, cfg.Dups = ModeReplay, 50, 4
	replay := mustRun(t, cfg)
	if err := Expect(replay, false); err != nil {
		t.Errorf("replay: %v", err)
	}

	bare := bareServer(t) // the vote handler, no middleware
	cfg = testConfig(bare.URL)
	cfg.Path, cfg.Mode, cfg.Keys, cfg.Dups = "/votes", ModeReplay, 50, 4
	b := mustRun(t, cfg)
	if err := Expect(b, true); err != nil {
		t.Errorf("bare: %v", err)
	}
	err := Expect(b, false)
	if err == nil || !strings.Contains(err.Error(), "Idempotency-Status Original") || !strings.Contains(err.Error(), "executions") {
		t.Errorf("a bypassing server measured as the middleware: %v", err)
	}
}

func TestSummarize(t *testing.T) {
	var s []Sample
	add := func(v, mode string, round int, rps, p99 float64) {
		s = append(s, Sample{Framework: "gin", Variant: v, Mode: mode, Round: round, PerSecond: rps, P50: 1, P99: p99})
	}
	// Round 2 runs on a machine twice as loaded: paired ratios ignore it.
	add(VariantMemory, ModeFirst, 1, 900, 6)
	add(VariantBare, ModeFirst, 1, 1000, 5)
	add(VariantBare, ModeFirst, 2, 500, 10)
	add(VariantMemory, ModeFirst, 2, 450, 12)
	add(VariantRedis, ModeFirst, 1, 400, 10)
	add(VariantRedis, ModeFirst, 2, 200, 20)
	got := Summarize(s)
	if len(got) != 3 || got[0].Variant != VariantBare || got[1].Variant != VariantMemory || got[2].Variant != VariantRedis {
		t.Fatalf("order %+v", got)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if m := got[1]; !near(m.Ratio, 0.9) || !near(m.P99Ratio, 1.2) || !near(m.PerSecond, 675) {
		t.Errorf("memory %+v", m)
	}
	if !strings.HasSuffix(verdict(got[1]), ": met") || !strings.HasSuffix(verdict(got[2]), "NOT MET") || verdict(got[0]) != "" {
		t.Errorf("verdicts %q %q %q", verdict(got[0]), verdict(got[1]), verdict(got[2]))
	}
	path := filepath.Join(t.TempDir(), "e2e.txt")
	if err := writeSuiteFile(path, ReadMachine(), DefaultSuiteConfig(), s, got); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nsummary gin memory first 675.0 1.000 9.000 0.9000 1.2000\n") {
		t.Errorf("file:\n%s", b)
	}
	if err := WriteSuiteTable(io.Discard, ReadMachine(), DefaultSuiteConfig(), got); err != nil {
		t.Error(err)
	}
}

func TestSuiteFlags(t *testing.T) {
	if !isSuite([]string{"-clients", "4", "-suite", "e2e"}) || !isSuite([]string{"--suite=e2e"}) || isSuite([]string{"-mode", "first"}) {
		t.Error("isSuite")
	}
	cfg, err := parseSuiteFlags([]string{"-suite", "e2e", "-frameworks", "gin", "-stores", "memory", "-rounds", "2", "-duration", "1s"}, io.Discard)
	if err != nil || len(cfg.Frameworks) != 1 || len(cfg.Stores) != 1 || cfg.Rounds != 2 || cfg.Duration != time.Second {
		t.Errorf("%+v %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"-suite", "x"}, {"-suite", "e2e", "-frameworks", "chi"}, {"-suite", "e2e", "-stores", "pg"},
		{"-suite", "e2e", "-rounds", "0"}, {"-suite", "e2e", "-duration", "2m"}, {"-suite", "e2e", "-modes", "mixed"},
	} {
		if _, err := parseSuiteFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
