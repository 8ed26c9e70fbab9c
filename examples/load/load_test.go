package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/ginapp"
	"github.com/idemkit/idempotency/examples/internal/shop"
	"github.com/idemkit/idempotency/storage/memory"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// inFlight wraps h and records the most requests with one key that were
// in flight together.
type inFlight struct {
	h   http.Handler
	mu  sync.Mutex
	now map[string]int
	max int
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k := r.Header.Get("Idempotency-Key")
	f.mu.Lock()
	if f.now == nil {
		f.now = map[string]int{}
	}
	f.now[k]++
	f.max = max(f.max, f.now[k])
	f.mu.Unlock()
	f.h.ServeHTTP(w, r)
	f.mu.Lock()
	f.now[k]--
	f.mu.Unlock()
}

// ginServer starts the example API on Gin over store.
func ginServer(t *testing.T, store core.Store) (*httptest.Server, *inFlight) {
	t.Helper()
	r, err := ginapp.New(store, shop.New())
	if err != nil {
		t.Fatal(err)
	}
	f := &inFlight{h: r}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return srv, f
}

func testConfig(targets ...string) Config {
	cfg := DefaultConfig()
	cfg.Targets = targets
	cfg.Clients = 8
	cfg.Duration = 3 * time.Second
	cfg.Timeout = 5 * time.Second
	return cfg
}

func mustRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		var b bytes.Buffer
		_ = rep.WriteTable(&b)
		t.Logf("\n%s", b.String())
	}
	return rep
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestMixed: keys x dups against the Gin example on the memory store,
// duplicates partly concurrent (the handler sleeps 2ms): every key ran
// once, the outcomes add up, and the tool says so.
func TestMixed(t *testing.T) {
	srv, f := ginServer(t, memory.New())
	cfg := testConfig(srv.URL)
	cfg.Path = "/payments?delay=2ms"
	cfg.Keys, cfg.Dups = 150, 4
	rep := mustRun(t, cfg)

	if !rep.OK || rep.Errors != 0 || exitCode(rep) != exitOK {
		t.Fatalf("ok=%v errors=%d double=%+v", rep.OK, rep.Errors, rep.DoubleRuns)
	}
	if len(rep.Phases) != 1 {
		t.Fatalf("%d phases", len(rep.Phases))
	}
	p := rep.Phases[0]
	want := cfg.Keys * cfg.Dups
	if p.Requests != want || sum(p.Status) != want || sum(p.Idempotent) != want {
		t.Errorf("requests %d, status %v, idempotency %v; want %d of each", p.Requests, p.Status, p.Idempotent, want)
	}
	if p.Status["201"] != want {
		t.Errorf("status %v, want 201 for all", p.Status)
	}
	if p.Idempotent["Original"] != cfg.Keys || p.Idempotent["Repeated"] != want-cfg.Keys {
		t.Errorf("idempotency %v, want %d Original", p.Idempotent, cfg.Keys)
	}
	if rep.Keys.Sent != cfg.Keys || rep.Keys.WithOriginal != cfg.Keys {
		t.Errorf("keys %+v", rep.Keys)
	}
	if e := rep.Executions; e == nil || e.Delta != int64(cfg.Keys) {
		t.Errorf("executions %+v, want delta %d", e, cfg.Keys)
	}
	if p.PerSecond <= 0 || p.LatencyMS.P50 <= 0 || p.LatencyMS.P50 > p.LatencyMS.P99 || p.LatencyMS.P99 > p.LatencyMS.Max {
		t.Errorf("rate %v latency %+v", p.PerSecond, p.LatencyMS)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.max < 2 {
		t.Errorf("no key ever had two requests in flight together (max %d)", f.max)
	}
}

// TestReplay: a warm-up of Originals, then replays only, measured apart.
func TestReplay(t *testing.T) {
	srv, _ := ginServer(t, memory.New())
	cfg := testConfig(srv.URL)
	cfg.Mode, cfg.Keys, cfg.Dups = ModeReplay, 100, 3
	rep := mustRun(t, cfg)
	if !rep.OK || len(rep.Phases) != 2 {
		t.Fatalf("ok=%v phases=%d", rep.OK, len(rep.Phases))
	}
	warm, replay := rep.Phases[0], rep.Phases[1]
	if warm.Name != "warm" || warm.Requests != 100 || warm.Idempotent["Original"] != 100 {
		t.Errorf("warm %+v", warm)
	}
	if replay.Name != ModeReplay || replay.Requests != 300 || replay.Idempotent["Repeated"] != 300 {
		t.Errorf("replay %+v", replay)
	}
	if rep.Executions.Delta != 100 {
		t.Errorf("executions %+v", rep.Executions)
	}
}

// TestFirstUnbounded: -mode first -keys 0 makes a key per request, up to
// -requests.
func TestFirstUnbounded(t *testing.T) {
	srv, _ := ginServer(t, memory.New())
	cfg := testConfig(srv.URL)
	cfg.Mode, cfg.Keys, cfg.Dups, cfg.Requests = ModeFirst, 0, 5, 400
	rep := mustRun(t, cfg)
	p := rep.Phases[0]
	if !rep.OK || p.Requests != 400 || p.Idempotent["Original"] != 400 || rep.Executions.Delta != 400 || rep.Keys.Sent != 400 {
		t.Errorf("ok=%v phase %+v executions %+v keys %+v", rep.OK, p, rep.Executions, rep.Keys)
	}
}

// TestSharedStore: two instances sharing one store (as with Redis), each
// with its own counter: requests alternate, and the executions, summed,
// are one per key.
func TestSharedStore(t *testing.T) {
	store := memory.New()
	a, _ := ginServer(t, store)
	b, _ := ginServer(t, store)
	cfg := testConfig(a.URL, b.URL)
	cfg.Keys, cfg.Dups = 100, 3
	rep := mustRun(t, cfg)
	if !rep.OK || rep.Executions.Delta != 100 {
		t.Fatalf("ok=%v executions %+v double %+v", rep.OK, rep.Executions, rep.DoubleRuns)
	}
	if len(rep.Targets) != 2 || rep.Targets[0].Requests != 150 || rep.Targets[1].Requests != 150 {
		t.Errorf("targets %+v", rep.Targets)
	}
	if *rep.Targets[0].Executions+*rep.Targets[1].Executions != 100 {
		t.Errorf("per-target executions %d + %d", *rep.Targets[0].Executions, *rep.Targets[1].Executions)
	}
}

// TestSameInstanceTwice: one server named twice (127.0.0.1 and
// localhost) cannot be told from two servers that ran as many keys each,
// so its counter counts twice and the run fails: the safe direction
// (merging equal counters once hid half of a shared store's executions).
func TestSameInstanceTwice(t *testing.T) {
	srv, _ := ginServer(t, memory.New())
	cfg := testConfig(srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1))
	cfg.Keys, cfg.Dups = 50, 2
	rep := mustRun(t, cfg)
	if rep.OK || rep.Executions.Delta != 100 || rep.DoubleRuns.ExtraExecutions != 50 {
		t.Errorf("ok=%v executions %+v double %+v: one instance under two names must count twice", rep.OK, rep.Executions, rep.DoubleRuns)
	}
}

// bareServer is the example's vote handler without the idempotency
// middleware: every request runs and answers a new id. (Payments would
// answer 503 without the middleware: they refuse to charge without a
// claim to declare their effects on.)
func bareServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := shop.New()
	r := gin.New()
	r.POST("/votes", ginapp.Handler(s, shop.Votes))
	r.GET("/stats", ginapp.Handler(s, shop.Stats))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// TestDetectsBareHandler: without the middleware every duplicate runs;
// the tool sees different bodies for one key and more executions than
// keys, prints it, and exits 1.
func TestDetectsBareHandler(t *testing.T) {
	srv := bareServer(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-target", srv.URL, "-path", "/votes", "-keys", "40", "-dups", "3", "-clients", "4", "-duration", "3s"}, &out, &errOut)
	if code != exitDoubleRun {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitDoubleRun, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "DOUBLE EXECUTIONS") {
		t.Errorf("table does not say so:\n%s", out.String())
	}

	// The same as JSON.
	out.Reset()
	code = run(context.Background(), []string{"-target", srv.URL, "-path", "/votes", "-keys", "40", "-dups", "3", "-clients", "4", "-json"}, &out, &errOut)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	d := rep.DoubleRuns
	if code != exitDoubleRun || rep.OK || d.DistinctBodies != 40 || d.ExtraExecutions != 120 || len(d.Examples) == 0 {
		t.Errorf("exit %d ok=%v double %+v", code, rep.OK, d)
	}
}

// liar answers every POST with the same 201 body. originals decides
// whether a request is marked Original; each request counts as an
// execution in GET /stats.
func liar(t *testing.T, originals func(n int64) bool) *httptest.Server {
	t.Helper()
	var runs atomic.Int64
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, `{"executions":{"payments":%d}}`, runs.Load())
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		n := runs.Add(1)
		k := r.Header.Get("Idempotency-Key")
		mu.Lock()
		first := !seen[k]
		seen[k] = true
		mu.Unlock()
		if originals(n) || first {
			w.Header().Set("Idempotency-Status", "Original")
		} else {
			w.Header().Set("Idempotency-Status", "Repeated")
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"pay_1"}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestDetectsOriginalTwice: identical bodies, the counters not read, yet
// one key answered Original twice: exit 1.
func TestDetectsOriginalTwice(t *testing.T) {
	srv := liar(t, func(n int64) bool { return n%7 == 0 })
	cfg := testConfig(srv.URL)
	cfg.Keys, cfg.Dups, cfg.NoStats = 50, 3, true
	rep := mustRun(t, cfg)
	d := rep.DoubleRuns
	if rep.OK || exitCode(rep) != exitDoubleRun || d.MultipleOriginals == 0 || d.DistinctBodies != 0 || rep.Executions != nil {
		t.Errorf("ok=%v double %+v executions %+v", rep.OK, d, rep.Executions)
	}
}

// TestDetectsExtraExecutions: the responses look right (one Original per
// key, one body) but the handler ran for every request: the counters'
// delta gives it away.
func TestDetectsExtraExecutions(t *testing.T) {
	srv := liar(t, func(int64) bool { return false })
	cfg := testConfig(srv.URL)
	cfg.Keys, cfg.Dups = 50, 3
	rep := mustRun(t, cfg)
	d := rep.DoubleRuns
	if rep.OK || d.MultipleOriginals != 0 || d.DistinctBodies != 0 || d.ExtraExecutions != 100 {
		t.Errorf("ok=%v double %+v executions %+v", rep.OK, d, rep.Executions)
	}
}

// TestUnanswered: nothing listens: exit 3 with -no-stats, 2 without (the
// counters cannot be read).
func TestUnanswered(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-target", url, "-keys", "5", "-dups", "1", "-no-stats"}, &out, &errOut); code != exitUnanswered {
		t.Errorf("-no-stats: exit %d, want %d\n%s%s", code, exitUnanswered, out.String(), errOut.String())
	}
	if code := run(context.Background(), []string{"-target", url}, &out, &errOut); code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
}

func TestFlags(t *testing.T) {
	cfg, asJSON, err := parseFlags([]string{"-target", "http://a:1/, http://b:2", "-target", "http://c:3", "-target", "http://a:1",
		"-header", "Authorization: Bearer x", "-json", "-path", "/refunds?delay=1ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Targets, " "); got != "http://a:1 http://b:2 http://c:3" || !asJSON {
		t.Errorf("targets %q json %v", got, asJSON)
	}
	if cfg.Headers.Get("Authorization") != "Bearer x" || cfg.Counter != "refunds" {
		t.Errorf("headers %v counter %q", cfg.Headers, cfg.Counter)
	}
	for _, args := range [][]string{
		{"-clients", "5000"},
		{"-duration", "1h"},
		{"-keys", "10000000"},
		{"-requests", "100000000"},
		{"-duration", "0s"},
		{"-mode", "fast"},
		{"-keys", "0"}, // unbounded keys only in mode first
		{"-target", "localhost:8080"},
		{"-header", "nocolon"},
	} {
		if _, _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if _, _, err := parseFlags([]string{"-clients", "5000", "-duration", "1h", "-force"}, io.Discard); err != nil {
		t.Errorf("-force: %v", err)
	}
}

func TestKeyIsUUID(t *testing.T) {
	r := newRunner(testConfig("http://127.0.0.1:1"))
	seen := map[string]bool{}
	for _, i := range []uint64{0, 1, 255, 1 << 40} {
		k := r.Key(i)
		if len(k) != 36 || k[14] != '4' || !strings.ContainsRune("89ab", rune(k[19])) || seen[k] {
			t.Errorf("key %d: %q", i, k)
		}
		seen[k] = true
	}
}

// TestDurationAndTimeout: -duration ends a phase; a request over
// -timeout is an unanswered "timeout" (exit 3), and its key, which did
// run, is not taken for a double execution.
func TestDurationAndTimeout(t *testing.T) {
	srv, _ := ginServer(t, memory.New())
	cfg := testConfig(srv.URL)
	cfg.Mode, cfg.Keys, cfg.Duration = ModeFirst, 0, 300*time.Millisecond
	rep := mustRun(t, cfg)
	if p := rep.Phases[0]; !rep.OK || p.Requests == 0 || p.Seconds < 0.25 || p.Seconds > 2 {
		t.Errorf("ok=%v requests %d in %.2fs", rep.OK, p.Requests, p.Seconds)
	}

	cfg = testConfig(srv.URL)
	cfg.Path = "/payments?delay=400ms"
	cfg.Keys, cfg.Dups, cfg.Clients, cfg.Timeout = 3, 1, 3, 100*time.Millisecond
	rep = mustRun(t, cfg)
	p := rep.Phases[0]
	if !rep.OK || exitCode(rep) != exitUnanswered || p.Status["timeout"] != 3 || rep.Keys.Unanswered != 3 {
		t.Errorf("ok=%v exit %d status %v keys %+v executions %+v", rep.OK, exitCode(rep), p.Status, rep.Keys, rep.Executions)
	}
}
