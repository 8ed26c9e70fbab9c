package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// The modes. Mixed sends each key D times, duplicates interleaved and
// partly concurrent; First sends every key once (first-request
// throughput); Replay sends every key once unmeasured (the warm-up), then
// D replays per key, measured on their own (replay throughput).
const (
	ModeMixed  = "mixed"
	ModeFirst  = "first"
	ModeReplay = "replay"
)

// Pick strategies: how a request chooses among several targets.
const (
	PickRoundRobin = "roundrobin"
	PickRandom     = "random"
)

// Safety limits: values above them are refused unless Config.Force.
const (
	maxClients  = 1024
	maxDuration = 5 * time.Minute
	maxKeys     = 1_000_000
	maxDups     = 1000
	maxRequests = 5_000_000
	maxTimeout  = time.Minute
	maxBodyRead = 1 << 20 // bytes of a response body read and hashed
)

// Config is what one run does. Its zero value is not valid; see
// DefaultConfig and Validate.
type Config struct {
	Targets   []string      // base URLs, e.g. http://127.0.0.1:8080
	Path      string        // route, e.g. /payments (may carry a query)
	Body      string        // request body, sent as application/json
	KeyHeader string        // header that carries the key
	User      string        // X-User-ID, "" for none
	Headers   http.Header   // extra request headers
	Clients   int           // concurrent clients (connections)
	Keys      int           // distinct keys; 0: a new key per request until a bound (mode first only)
	Dups      int           // requests per key (mixed), replays per key (replay); 1 in mode first
	Requests  int           // cap on measured requests, 0 for none
	Duration  time.Duration // cap on each phase's wall time
	Timeout   time.Duration // per-request timeout
	Mode      string        // ModeMixed, ModeFirst, ModeReplay
	Pick      string        // PickRoundRobin, PickRandom
	StatsPath string        // GET route of the execution counters
	Counter   string        // name of the counter in the stats' "executions"; default: Path's last segment
	NoStats   bool          // do not read the counters
	Force     bool          // allow values above the safety limits
}

// DefaultConfig returns the defaults of the command's flags.
func DefaultConfig() Config {
	return Config{
		Targets:   []string{"http://127.0.0.1:8080"},
		Path:      "/payments",
		Body:      `{"amount":1000,"currency":"EUR"}`,
		KeyHeader: "Idempotency-Key",
		User:      "load",
		Clients:   16,
		Keys:      1000,
		Dups:      3,
		Duration:  10 * time.Second,
		Timeout:   10 * time.Second,
		Mode:      ModeMixed,
		Pick:      PickRoundRobin,
		StatsPath: "/stats",
	}
}

// Validate checks cfg, filling in what follows from the rest (the
// counter's name, Dups in mode first), and refuses values above the
// safety limits unless cfg.Force.
func (cfg *Config) Validate() error {
	if len(cfg.Targets) == 0 {
		return errors.New("no -target")
	}
	seen := map[string]bool{}
	var targets []string
	for _, t := range cfg.Targets {
		t = strings.TrimRight(strings.TrimSpace(t), "/")
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-target %q: want an http(s) base URL such as http://127.0.0.1:8080", t)
		}
		if !seen[t] { // an instance listed twice would count its executions twice
			seen[t] = true
			targets = append(targets, t)
		}
	}
	cfg.Targets = targets
	if !strings.HasPrefix(cfg.Path, "/") {
		return fmt.Errorf("-path %q must start with /", cfg.Path)
	}
	if cfg.KeyHeader == "" {
		return errors.New("-key-header is empty")
	}
	switch cfg.Mode {
	case ModeMixed, ModeReplay:
		if cfg.Keys < 1 {
			return fmt.Errorf("-keys %d: mode %s needs at least one key (0, unbounded keys, is for mode first)", cfg.Keys, cfg.Mode)
		}
	case ModeFirst:
		cfg.Dups = 1
		if cfg.Keys < 0 {
			return fmt.Errorf("-keys %d is negative", cfg.Keys)
		}
	default:
		return fmt.Errorf("-mode %q: want mixed, first or replay", cfg.Mode)
	}
	if cfg.Pick != PickRoundRobin && cfg.Pick != PickRandom {
		return fmt.Errorf("-pick %q: want roundrobin or random", cfg.Pick)
	}
	switch {
	case cfg.Clients < 1:
		return fmt.Errorf("-clients %d: want at least 1", cfg.Clients)
	case cfg.Dups < 1:
		return fmt.Errorf("-dups %d: want at least 1", cfg.Dups)
	case cfg.Requests < 0:
		return fmt.Errorf("-requests %d is negative", cfg.Requests)
	case cfg.Duration <= 0:
		return fmt.Errorf("-duration %v: want a positive bound", cfg.Duration)
	case cfg.Timeout <= 0:
		return fmt.Errorf("-timeout %v: want a positive per-request timeout", cfg.Timeout)
	}
	if !cfg.Force {
		var errs []error
		over := func(name string, v, limit any) {
			errs = append(errs, fmt.Errorf("-%s %v is over the safety limit %v (add -force if you mean it)", name, v, limit))
		}
		if cfg.Clients > maxClients {
			over("clients", cfg.Clients, maxClients)
		}
		if cfg.Duration > maxDuration {
			over("duration", cfg.Duration, maxDuration)
		}
		if cfg.Keys > maxKeys {
			over("keys", cfg.Keys, maxKeys)
		}
		if cfg.Dups > maxDups {
			over("dups", cfg.Dups, maxDups)
		}
		if cfg.Requests > maxRequests {
			over("requests", cfg.Requests, maxRequests)
		}
		if cfg.Timeout > maxTimeout {
			over("timeout", cfg.Timeout, maxTimeout)
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	if !cfg.NoStats {
		if !strings.HasPrefix(cfg.StatsPath, "/") {
			return fmt.Errorf("-stats-path %q must start with /", cfg.StatsPath)
		}
		if cfg.Counter == "" {
			p, _, _ := strings.Cut(cfg.Path, "?")
			cfg.Counter = p[strings.LastIndexByte(p, '/')+1:]
			if cfg.Counter == "" {
				return fmt.Errorf("-path %q names no counter; set -stats-counter or -no-stats", cfg.Path)
			}
		}
	}
	return nil
}

// job is one request to send: the key's index, and which of its requests
// this is (0 for the first one scheduled).
type job struct {
	key uint64
	dup int
}

// result is what one request got, kept compact: one per request.
type result struct {
	key     uint64
	digest  uint64 // of the body, when 2xx
	latency time.Duration
	status  int16  // 0: no response (see errKind)
	idem    uint8  // idemNone, idemOriginal, idemRepeated, idemOther
	errKind uint8  // errNone, errTimeout, errTransport
	target  uint16 // index into Config.Targets
}

const (
	idemNone = iota
	idemOriginal
	idemRepeated
	idemOther
)

const (
	errNone = iota
	errTimeout
	errTransport
)

// runner holds what the phases of one run share.
type runner struct {
	cfg    Config
	client *http.Client
	prefix [8]byte // random per run: keys never collide with an earlier run's
	seed   maphash.Seed
	body   []byte
	stats  *http.Client  // for GET -stats-path: the same transport, a timeout of at least 10s
	rr     atomic.Uint64 // round robin over the targets
	urls   []string      // target + path
}

// Key returns the idempotency key of key index i: a version-4-shaped UUID
// made of the run's random prefix and i.
func (r *runner) Key(i uint64) string {
	var b uuid.UUID
	copy(b[:8], r.prefix[:])
	binary.BigEndian.PutUint64(b[8:], i&(1<<56-1))
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = 0x80             // variant 10, the rest of byte 8 unused
	return b.String()
}

func newRunner(cfg Config) *runner {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Clients * len(cfg.Targets),
		MaxIdleConnsPerHost: cfg.Clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		TLSHandshakeTimeout: 5 * time.Second,
	}
	r := &runner{
		cfg: cfg,
		client: &http.Client{
			Transport: tr,
			Timeout:   cfg.Timeout,
			// A 3xx is an outcome to count, not a request to make.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		seed: maphash.MakeSeed(),
		body: []byte(cfg.Body),
	}
	r.stats = &http.Client{Transport: tr, Timeout: max(cfg.Timeout, 10*time.Second)}
	binary.LittleEndian.PutUint64(r.prefix[:], rand.Uint64())
	for _, t := range cfg.Targets {
		r.urls = append(r.urls, t+cfg.Path)
	}
	return r
}

// schedule sends the phase's jobs to out until it has sent them all, the
// cap, or ctx is done, then closes out.
//
// Mixed and replay-mixed scheduling (dups > 1, fresh keys): keys come in
// chunks of about two requests per client; a chunk's requests are
// shuffled, so a key's duplicates are a few positions apart and often in
// flight together, while each key's last duplicate (when dups >= 3) is
// held back to the next chunk, so it usually arrives after the original
// has finished: a replay.
//
// Replay scheduling (warm keys): key i%keys, dups times around.
func schedule(ctx context.Context, out chan<- job, keys, dups, clients, limit int, replay bool) {
	defer close(out)
	sent := 0
	send := func(j job) bool {
		if limit > 0 && sent >= limit {
			return false
		}
		select {
		case out <- j:
			sent++
			return true
		case <-ctx.Done():
			return false
		}
	}
	if replay {
		for round := range dups {
			for k := range keys {
				if !send(job{key: uint64(k), dup: round + 1}) {
					return
				}
			}
		}
		return
	}
	if dups == 1 {
		for k := uint64(0); keys == 0 || k < uint64(keys); k++ {
			if !send(job{key: k}) {
				return
			}
		}
		return
	}
	perChunk := max(1, 2*clients/dups)
	var held, chunk []job
	for first := 0; first < keys; first += perChunk {
		chunk = append(chunk[:0], held...)
		held = held[:0]
		for k := first; k < min(first+perChunk, keys); k++ {
			for d := range dups {
				j := job{key: uint64(k), dup: d}
				if dups >= 3 && d == dups-1 {
					held = append(held, j)
				} else {
					chunk = append(chunk, j)
				}
			}
		}
		rand.Shuffle(len(chunk), func(a, b int) { chunk[a], chunk[b] = chunk[b], chunk[a] })
		for _, j := range chunk {
			if !send(j) {
				return
			}
		}
	}
	for _, j := range held {
		if !send(j) {
			return
		}
	}
}

// phase runs one phase: clients workers send the scheduled jobs until
// the schedule ends or the phase's duration passes (requests in flight
// then finish, bounded by the per-request timeout; none is cut short).
func (r *runner) phase(ctx context.Context, name string, keys, dups, limit int, replay bool) Phase {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	jobs := make(chan job, r.cfg.Clients)
	go schedule(ctx, jobs, keys, dups, r.cfg.Clients, limit, replay)

	per := make([][]result, r.cfg.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range r.cfg.Clients {
		wg.Go(func() {
			buf := new(bytes.Buffer)
			for j := range jobs {
				if ctx.Err() != nil {
					continue // drain: the scheduler stops on ctx too
				}
				per[w] = append(per[w], r.do(j, buf))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	return newPhase(name, r.cfg, slices.Concat(per...), elapsed)
}

// do sends one request and reads its answer. It never retries: the
// request has no GetBody, so net/http cannot resend it either (it would,
// for a request with an Idempotency-Key header, on a reused connection
// that fails).
func (r *runner) do(j job, buf *bytes.Buffer) result {
	var t int
	if len(r.urls) > 1 {
		if r.cfg.Pick == PickRandom {
			t = rand.IntN(len(r.urls))
		} else {
			t = int((r.rr.Add(1) - 1) % uint64(len(r.urls)))
		}
	}
	res := result{key: j.key, target: uint16(t)}
	req, err := http.NewRequest(http.MethodPost, r.urls[t], bytes.NewReader(r.body))
	if err != nil {
		res.errKind = errTransport
		return res
	}
	req.GetBody = nil
	req.Header = make(http.Header, 4+len(r.cfg.Headers))
	for k, v := range r.cfg.Headers {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(r.cfg.KeyHeader, r.Key(j.key))
	if r.cfg.User != "" {
		req.Header.Set("X-User-ID", r.cfg.User)
	}
	start := time.Now()
	resp, err := r.client.Do(req)
	if err == nil {
		buf.Reset()
		_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBodyRead))
		_, _ = io.Copy(io.Discard, resp.Body) // anything over the limit, so the connection is reused
		resp.Body.Close()
	}
	res.latency = time.Since(start)
	if err != nil {
		res.errKind = errTransport
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
			res.errKind = errTimeout
		}
		if resp != nil {
			res.status = int16(resp.StatusCode) // a body cut short is still an answer, yet not a trustworthy one
		}
		return res
	}
	res.status = int16(resp.StatusCode)
	switch resp.Header.Get("Idempotency-Status") {
	case "":
		res.idem = idemNone
	case "Original":
		res.idem = idemOriginal
	case "Repeated":
		res.idem = idemRepeated
	default:
		res.idem = idemOther
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.digest = maphash.Bytes(r.seed, buf.Bytes()) | 1 // never 0, which means "no body seen"
	}
	return res
}

// Run runs cfg (validated by Validate) and returns its report. An error
// means the run could not be measured (the counters could not be read);
// a double execution is in the report (Report.OK false), not an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r := newRunner(cfg)
	defer r.client.CloseIdleConnections()
	rep := &Report{Config: reportConfig(cfg), keyName: r.Key}
	var before []int64
	if !cfg.NoStats {
		var err error
		if before, err = r.counters(ctx); err != nil {
			return nil, err
		}
	}
	switch cfg.Mode {
	case ModeMixed:
		rep.Phases = append(rep.Phases, r.phase(ctx, ModeMixed, cfg.Keys, cfg.Dups, cfg.Requests, false))
	case ModeFirst:
		rep.Phases = append(rep.Phases, r.phase(ctx, ModeFirst, cfg.Keys, 1, cfg.Requests, false))
	case ModeReplay:
		rep.Phases = append(rep.Phases, r.phase(ctx, "warm", cfg.Keys, 1, 0, false))
		if ctx.Err() == nil {
			rep.Phases = append(rep.Phases, r.phase(ctx, ModeReplay, cfg.Keys, cfg.Dups, cfg.Requests, true))
		}
	}
	if !cfg.NoStats {
		// Fresh context: an interrupted run still reads its counters.
		after, err := r.counters(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		rep.setExecutions(cfg.Targets, before, after)
	}
	rep.analyze()
	return rep, nil
}

// counters reads the execution counter of every target.
func (r *runner) counters(ctx context.Context) ([]int64, error) {
	out := make([]int64, len(r.cfg.Targets))
	for i, t := range r.cfg.Targets {
		n, err := readCounter(ctx, r.stats, t+r.cfg.StatsPath, r.cfg.Counter)
		if err != nil {
			return nil, fmt.Errorf("%s (use -no-stats to run without the execution check): %w", t, err)
		}
		out[i] = n
	}
	return out, nil
}
