package main

// The end-to-end suite (-suite e2e): SPEC §7's end-to-end targets in one
// command and one run. It builds the example servers, starts a Redis on
// a free loopback port, and for each framework serves the same routes
// three ways (bare: -bare, no idempotency middleware; memory; redis),
// then measures them in interleaved rounds, first-heavy and replay-heavy,
// checking every answer (Expect), and prints req/s, p50, p99 and the
// ratios to bare against the targets.

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The variants each framework is served as.
const (
	VariantBare   = "bare"
	VariantMemory = "memory"
	VariantRedis  = "redis"
)

// SuiteConfig is one run of the end-to-end suite.
type SuiteConfig struct {
	Frameworks  []string      // gin, echo, fiber
	Stores      []string      // memory, redis (bare always runs: it is the baseline)
	Modes       []string      // first, replay
	Rounds      int           // interleaved rounds
	Duration    time.Duration // per measured run
	Warmup      time.Duration // one unmeasured first-mode run per server before round 1
	Clients     int
	ReplayKeys  int    // keys warmed, then replayed, per replay run
	RedisServer string // redis-server binary
	Out         string // results file for the chart program, "" for none
	BinDir      string // prebuilt server binaries (gin, echo, fiber); "" builds them
}

// DefaultSuiteConfig is the suite's defaults: every framework, both
// stores, both modes, 3 rounds of 5 s.
func DefaultSuiteConfig() SuiteConfig {
	return SuiteConfig{
		Frameworks: []string{"gin", "echo", "fiber"}, Stores: []string{VariantMemory, VariantRedis},
		Modes: []string{ModeFirst, ModeReplay}, Rounds: 3, Duration: 5 * time.Second, Warmup: time.Second,
		Clients: 16, ReplayKeys: 2000, RedisServer: "redis-server",
	}
}

// Sample is one measured run.
type Sample struct {
	Framework, Variant, Mode string
	Round                    int
	PerSecond, P50, P99      float64 // req/s, ms
}

// Summary is one (framework, variant, mode) over the rounds: medians of
// the rounds, and the medians of the per-round ratios to bare (paired
// within a round, so that load drifting between rounds cancels).
type Summary struct {
	Framework, Variant, Mode string
	PerSecond, P50, P99      float64
	Ratio, P99Ratio          float64 // 1 for bare
}

// Target is a SPEC §7 end-to-end target.
type Target struct {
	Variant, Mode string
	MinRatio      float64 // of bare's req/s
	MaxP99Ratio   float64 // of bare's p99, 0 for none
}

// Targets are SPEC §7's: memory at least 0.90x bare's req/s for first
// requests and 0.95x for replays; Redis 0.50x and 0.70x; p99 within
// 1.2x of bare on memory.
var Targets = []Target{
	{VariantMemory, ModeFirst, 0.90, 1.2},
	{VariantMemory, ModeReplay, 0.95, 1.2},
	{VariantRedis, ModeFirst, 0.50, 0},
	{VariantRedis, ModeReplay, 0.70, 0},
}

func isSuite(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		a = strings.TrimLeft(a, "-")
		if a == "suite" || strings.HasPrefix(a, "suite=") {
			return true
		}
	}
	return false
}

func parseSuiteFlags(args []string, output io.Writer) (SuiteConfig, error) {
	cfg := DefaultSuiteConfig()
	fs := flag.NewFlagSet("load -suite", flag.ContinueOnError)
	fs.SetOutput(output)
	suite := fs.String("suite", "", "the suite to run: e2e")
	fs.Var(&listValue{p: &cfg.Frameworks}, "frameworks", "example servers to measure (gin,echo,fiber)")
	fs.Var(&listValue{p: &cfg.Stores}, "stores", "stores to compare with bare (memory,redis)")
	fs.Var(&listValue{p: &cfg.Modes}, "modes", "first (every key new), replay (warm keys replayed)")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "interleaved rounds")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "each measured run's duration")
	fs.DurationVar(&cfg.Warmup, "warmup", cfg.Warmup, "an unmeasured run per server before round 1 (0: none)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "concurrent clients")
	fs.IntVar(&cfg.ReplayKeys, "keys", cfg.ReplayKeys, "keys per replay run (each warmed once, then replayed until -duration)")
	fs.StringVar(&cfg.RedisServer, "redis-server", cfg.RedisServer, "redis-server binary, started on a free loopback port")
	fs.StringVar(&cfg.Out, "out", "", "write the samples and summary to this `file` (the chart program reads it)")
	fs.StringVar(&cfg.BinDir, "bin", "", "`dir` of prebuilt example servers named gin, echo, fiber (default: go build them)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *suite != "e2e" {
		return cfg, fmt.Errorf("-suite %q: want e2e", *suite)
	}
	for _, f := range cfg.Frameworks {
		if f != "gin" && f != "echo" && f != "fiber" {
			return cfg, fmt.Errorf("-frameworks: %q is not gin, echo or fiber", f)
		}
	}
	for _, s := range cfg.Stores {
		if s != VariantMemory && s != VariantRedis {
			return cfg, fmt.Errorf("-stores: %q is not memory or redis", s)
		}
	}
	for _, m := range cfg.Modes {
		if m != ModeFirst && m != ModeReplay {
			return cfg, fmt.Errorf("-modes: %q is not first or replay", m)
		}
	}
	switch {
	case len(cfg.Frameworks) == 0 || len(cfg.Modes) == 0:
		return cfg, errors.New("nothing to run")
	case cfg.Rounds < 1 || cfg.Rounds > 50:
		return cfg, fmt.Errorf("-rounds %d: want 1 to 50", cfg.Rounds)
	case cfg.Duration <= 0 || cfg.Duration > time.Minute:
		return cfg, fmt.Errorf("-duration %v: want up to 1m per run", cfg.Duration)
	case cfg.Clients < 1 || cfg.Clients > maxClients:
		return cfg, fmt.Errorf("-clients %d: want 1 to %d", cfg.Clients, maxClients)
	case cfg.ReplayKeys < 1 || cfg.ReplayKeys > 100_000:
		return cfg, fmt.Errorf("-keys %d: want 1 to 100000", cfg.ReplayKeys)
	}
	return cfg, nil
}

// runSuite is run for -suite: 0 when every run answered as it must
// (whether or not the targets are met: that is the report), 1 when a
// run's answers failed Expect, 2 when the suite could not run.
func runSuite(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseSuiteFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "load:", err)
		return exitUsage
	}
	samples, machine, err := RunSuite(ctx, cfg, stderr)
	var bad *expectError
	if err != nil && !errors.As(err, &bad) {
		fmt.Fprintln(stderr, "load -suite:", err)
		return exitUsage
	}
	sums := Summarize(samples)
	if werr := WriteSuiteTable(stdout, machine, cfg, sums); werr != nil {
		fmt.Fprintln(stderr, "load:", werr)
	}
	if cfg.Out != "" {
		if werr := writeSuiteFile(cfg.Out, machine, cfg, samples, sums); werr != nil {
			fmt.Fprintln(stderr, "load:", werr)
			return exitUsage
		}
	}
	if bad != nil {
		fmt.Fprintln(stderr, "load -suite: a server answered wrongly, its numbers mean nothing:", err)
		return exitDoubleRun
	}
	return exitOK
}

type expectError struct{ err error }

func (e *expectError) Error() string { return e.err.Error() }
func (e *expectError) Unwrap() error { return e.err }

// server is one example server process of the suite.
type server struct {
	framework, variant string
	url                string
	cmd                *exec.Cmd
	done               chan struct{}
	log                *tailWriter
}

// RunSuite runs cfg and returns its samples, in the order measured, and
// a description of the machine. Progress goes to progress.
func RunSuite(ctx context.Context, cfg SuiteConfig, progress io.Writer) ([]Sample, Machine, error) {
	m := ReadMachine()
	tmp, err := os.MkdirTemp("", "idemkit-e2e-")
	if err != nil {
		return nil, m, err
	}
	defer os.RemoveAll(tmp)
	bin := cfg.BinDir
	if bin == "" {
		bin = tmp
		for _, f := range cfg.Frameworks {
			fmt.Fprintf(progress, "building examples/%s\n", f)
			c := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(tmp, f), "github.com/idemkit/idempotency/examples/"+f)
			c.Stdout, c.Stderr = progress, progress
			if err := c.Run(); err != nil {
				return nil, m, fmt.Errorf("go build examples/%s (run from the repository): %w", f, err)
			}
		}
	}
	variants := []string{VariantBare}
	var redisURL string
	for _, s := range cfg.Stores {
		variants = append(variants, s)
		if s == VariantRedis {
			addr, stop, version, err := startRedis(ctx, cfg.RedisServer, tmp)
			if err != nil {
				return nil, m, err
			}
			defer stop()
			m.Redis = version
			redisURL = "redis://" + addr + "/0"
		}
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	byName := map[string]*server{}
	for _, f := range cfg.Frameworks {
		for _, v := range variants {
			args := []string{"-addr", "127.0.0.1:0"}
			switch v {
			case VariantBare:
				args = append(args, "-bare")
			case VariantRedis:
				args = append(args, "-redis", redisURL)
			}
			s, err := startServer(ctx, filepath.Join(bin, f), args)
			if err != nil {
				return nil, m, fmt.Errorf("%s %s: %w", f, v, err)
			}
			s.framework, s.variant = f, v
			servers = append(servers, s)
			byName[f+"/"+v] = s
		}
	}
	m.LoadBefore = loadAvg()
	measure := func(s *server, mode string, d time.Duration) (*Report, error) {
		lc := DefaultConfig()
		lc.Targets, lc.Clients, lc.Mode, lc.Duration = []string{s.url}, cfg.Clients, mode, d
		lc.Keys, lc.Dups = 0, 1
		if mode == ModeReplay {
			lc.Keys, lc.Dups = cfg.ReplayKeys, maxDups
		}
		if err := lc.Validate(); err != nil {
			return nil, err
		}
		rep, err := Run(ctx, lc)
		if err != nil {
			return nil, err
		}
		if err := Expect(rep, s.variant == VariantBare); err != nil {
			return rep, &expectError{fmt.Errorf("%s %s %s: %w\nserver log:\n%s", s.framework, s.variant, mode, err, s.log)}
		}
		return rep, nil
	}
	if cfg.Warmup > 0 {
		fmt.Fprintf(progress, "warming up %d servers\n", len(servers))
		for _, s := range servers {
			if _, err := measure(s, ModeFirst, cfg.Warmup); err != nil {
				return nil, m, err
			}
		}
	}
	var samples []Sample
	for round := 1; round <= cfg.Rounds; round++ {
		for _, f := range cfg.Frameworks {
			for _, mode := range cfg.Modes {
				// Rotate the order every round: no variant always runs
				// first (or right after the one that filled the heap).
				order := slices.Clone(variants)
				k := (round - 1) % len(order)
				order = append(order[k:], order[:k]...)
				for _, v := range order {
					if err := ctx.Err(); err != nil {
						return samples, m, err
					}
					s := byName[f+"/"+v]
					rep, err := measure(s, mode, cfg.Duration)
					if err != nil {
						return samples, m, err
					}
					p := rep.Phases[len(rep.Phases)-1]
					smp := Sample{Framework: f, Variant: v, Mode: mode, Round: round,
						PerSecond: p.PerSecond, P50: p.LatencyMS.P50, P99: p.LatencyMS.P99}
					samples = append(samples, smp)
					fmt.Fprintf(progress, "round %d  %-5s %-6s %-6s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms\n",
						round, f, v, mode, smp.PerSecond, smp.P50, smp.P99)
				}
			}
		}
	}
	m.LoadAfter = loadAvg()
	return samples, m, nil
}

// startServer starts an example server binary on a loopback port and
// waits for its "listening" log line.
func startServer(ctx context.Context, path string, args []string) (*server, error) {
	cmd := exec.Command(path, args...)
	cmd.Env = cleanEnv()
	tw := &tailWriter{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = tw, tw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{}), log: tw}
	go func() { _ = cmd.Wait(); close(s.done) }()
	select {
	case addr := <-tw.addr:
		s.url = "http://" + addr
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("exited at start-up: %s", tw)
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	s.stop()
	return nil, fmt.Errorf("no listening line: %s", tw)
}

func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// cleanEnv is the environment without the variables that configure the
// example servers (REDIS_URL, IDEMKIT_*): the suite sets each server's
// store by its flags alone.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "DATABASE_URL=") || strings.HasPrefix(kv, "IDEMKIT_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// tailWriter keeps the last lines of a process's output and reports its
// "listening" address once.
type tailWriter struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	addr    chan string
	found   bool
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := slices.Index(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if !w.found {
			if m := listeningLine.FindStringSubmatch(line); m != nil {
				w.found = true
				w.addr <- m[1]
			}
		}
		w.lines = append(w.lines, line)
		if len(w.lines) > 40 {
			w.lines = w.lines[len(w.lines)-20:]
		}
	}
	return len(p), nil
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and waits until it answers PING.
func startRedis(ctx context.Context, bin, dir string) (addr string, stop func(), version string, err error) {
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", nil, "", fmt.Errorf("redis-server not found (-redis-server, or -stores memory): %w", err)
	}
	if out, err := exec.Command(path, "--version").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
		"--dir", dir, "--protected-mode", "yes")
	tw := &tailWriter{addr: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = tw, tw
	if err := cmd.Start(); err != nil {
		return "", nil, "", err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(addr) {
			return addr, stop, version, nil
		}
		select {
		case <-done:
			return "", nil, "", fmt.Errorf("redis-server exited: %s", tw)
		case <-ctx.Done():
			stop()
			return "", nil, "", ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, "", fmt.Errorf("redis-server on %s does not answer PING: %s", addr, tw)
		}
	}
}

func ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Machine describes where the suite ran.
type Machine struct {
	CPU                   string
	CPUs                  int
	Go                    string
	Redis                 string
	LoadBefore, LoadAfter string
	Date                  string
}

// ReadMachine reads the CPU model (Linux), the CPU count and the Go
// version.
func ReadMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown", Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is /proc/loadavg's three averages, or "unknown".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// Summarize reduces samples to one Summary per (framework, variant,
// mode), in the order first seen, bare first within a framework and mode.
func Summarize(samples []Sample) []Summary {
	type key struct{ f, v, m string }
	type roundKey struct {
		f, m  string
		round int
	}
	bare := map[roundKey]Sample{}
	var order []key
	groups := map[key][]Sample{}
	for _, s := range samples {
		k := key{s.Framework, s.Variant, s.Mode}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
		if s.Variant == VariantBare {
			bare[roundKey{s.Framework, s.Mode, s.Round}] = s
		}
	}
	// Within each (framework, mode), in the order first measured: bare,
	// memory, redis.
	var sorted []key
	done := map[key]bool{}
	for _, k := range order {
		for _, v := range []string{VariantBare, VariantMemory, VariantRedis} {
			kv := key{k.f, v, k.m}
			if _, ok := groups[kv]; ok && !done[kv] {
				done[kv] = true
				sorted = append(sorted, kv)
			}
		}
	}
	order = sorted
	var out []Summary
	for _, k := range order {
		var rps, p50, p99, ratio, p99r []float64
		for _, s := range groups[k] {
			rps, p50, p99 = append(rps, s.PerSecond), append(p50, s.P50), append(p99, s.P99)
			if b, ok := bare[roundKey{s.Framework, s.Mode, s.Round}]; ok && b.PerSecond > 0 && b.P99 > 0 {
				ratio, p99r = append(ratio, s.PerSecond/b.PerSecond), append(p99r, s.P99/b.P99)
			}
		}
		out = append(out, Summary{Framework: k.f, Variant: k.v, Mode: k.m,
			PerSecond: median(rps), P50: median(p50), P99: median(p99), Ratio: median(ratio), P99Ratio: median(p99r)})
	}
	return out
}

// verdict says whether s meets its SPEC §7 target ("" when it has none).
func verdict(s Summary) string {
	for _, t := range Targets {
		if t.Variant != s.Variant || t.Mode != s.Mode {
			continue
		}
		ok := s.Ratio >= t.MinRatio
		v := fmt.Sprintf(">= %.2fx", t.MinRatio)
		if t.MaxP99Ratio > 0 {
			ok = ok && s.P99Ratio <= t.MaxP99Ratio
			v += fmt.Sprintf(", p99 <= %.1fx", t.MaxP99Ratio)
		}
		if ok {
			return v + ": met"
		}
		return v + ": NOT MET"
	}
	return ""
}

// WriteSuiteTable prints the summary for people.
func WriteSuiteTable(w io.Writer, m Machine, cfg SuiteConfig, sums []Summary) error {
	fmt.Fprintf(w, "\nend to end: %d rounds x %v per run, %d clients, POST /payments, loopback, telemetry on; medians of the rounds, ratios paired per round\n",
		cfg.Rounds, cfg.Duration, cfg.Clients)
	fmt.Fprintf(w, "machine: %s, %d CPUs, %s; load average %s before, %s after; %s\n", m.CPU, m.CPUs, m.Go, m.LoadBefore, m.LoadAfter, m.Date)
	if m.Redis != "" {
		fmt.Fprintf(w, "redis: %s\n", m.Redis)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "framework\tstore\tmode\treq/s\tp50 ms\tp99 ms\tvs bare\tp99 vs bare\ttarget")
	for _, s := range sums {
		ratio, p99r := "-", "-"
		if s.Variant != VariantBare {
			ratio, p99r = fmt.Sprintf("%.2fx", s.Ratio), fmt.Sprintf("%.2fx", s.P99Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.2f\t%.2f\t%s\t%s\t%s\n", s.Framework, s.Variant, s.Mode, s.PerSecond, s.P50, s.P99, ratio, p99r, verdict(s))
	}
	return tw.Flush()
}

// writeSuiteFile writes the results in the format the chart program
// reads: '#' comments, then one whitespace-separated record per line,
//
//	sample  framework variant mode round req_s p50_ms p99_ms
//	summary framework variant mode req_s p50_ms p99_ms ratio p99_ratio
func writeSuiteFile(path string, m Machine, cfg SuiteConfig, samples []Sample, sums []Summary) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# idemkit end-to-end suite (go run ./examples/load -suite e2e): %d rounds x %v, %d clients, %d replay keys\n",
		cfg.Rounds, cfg.Duration, cfg.Clients, cfg.ReplayKeys)
	fmt.Fprintf(&b, "# machine: %s; %d CPUs; %s; %s; load %s -> %s; %s\n", m.CPU, m.CPUs, m.Go, m.Redis, m.LoadBefore, m.LoadAfter, m.Date)
	fmt.Fprintln(&b, "# sample  framework variant mode round req_s p50_ms p99_ms")
	fmt.Fprintln(&b, "# summary framework variant mode req_s p50_ms p99_ms ratio p99_ratio")
	for _, s := range samples {
		fmt.Fprintf(&b, "sample %s %s %s %d %.1f %.3f %.3f\n", s.Framework, s.Variant, s.Mode, s.Round, s.PerSecond, s.P50, s.P99)
	}
	for _, s := range sums {
		fmt.Fprintf(&b, "summary %s %s %s %.1f %.3f %.3f %.4f %.4f\n", s.Framework, s.Variant, s.Mode, s.PerSecond, s.P50, s.P99, s.Ratio, s.P99Ratio)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
