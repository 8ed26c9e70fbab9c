package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a run measured, and whether any key ran more than once.
type Report struct {
	Config     ConfigOut   `json:"config"`
	Phases     []Phase     `json:"phases"`
	Targets    []TargetOut `json:"targets"`
	Keys       KeysOut     `json:"keys"`
	Executions *ExecOut    `json:"executions,omitempty"` // nil with -no-stats
	DoubleRuns DoubleRuns  `json:"double_runs"`
	// OK is false when a key ran more than once (exit status 1).
	OK bool `json:"ok"`
	// Errors counts requests that got no (complete) answer, all phases.
	Errors int `json:"errors"`

	keyName func(uint64) string // the key of an index, for Examples
}

// ConfigOut is the part of Config a report repeats.
type ConfigOut struct {
	Mode      string   `json:"mode"`
	Targets   []string `json:"targets"`
	Path      string   `json:"path"`
	Clients   int      `json:"clients"`
	Keys      int      `json:"keys"`
	Dups      int      `json:"dups"`
	Requests  int      `json:"requests_cap"`
	Duration  string   `json:"duration_cap"`
	Timeout   string   `json:"timeout"`
	Pick      string   `json:"pick"`
	StatsPath string   `json:"stats_path,omitempty"`
	Counter   string   `json:"stats_counter,omitempty"`
}

func reportConfig(cfg Config) ConfigOut {
	c := ConfigOut{
		Mode: cfg.Mode, Targets: cfg.Targets, Path: cfg.Path, Clients: cfg.Clients,
		Keys: cfg.Keys, Dups: cfg.Dups, Requests: cfg.Requests, Duration: cfg.Duration.String(),
		Timeout: cfg.Timeout.String(), Pick: cfg.Pick,
	}
	if !cfg.NoStats {
		c.StatsPath, c.Counter = cfg.StatsPath, cfg.Counter
	}
	return c
}

// Phase is one measured stretch of a run: mixed, first, or the warm-up
// and the replays of mode replay.
type Phase struct {
	Name       string         `json:"name"`
	Requests   int            `json:"requests"`
	Seconds    float64        `json:"seconds"`
	PerSecond  float64        `json:"requests_per_second"`
	LatencyMS  Latency        `json:"latency_ms"`
	Status     map[string]int `json:"status"`             // "201", "409", ..., "error" (no answer), "timeout"
	Idempotent map[string]int `json:"idempotency_status"` // Original, Repeated, none, other
	results    []result
}

// Latency holds percentiles, in milliseconds, of requests that got an
// answer.
type Latency struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func newPhase(name string, cfg Config, rs []result, elapsed time.Duration) Phase {
	p := Phase{
		Name: name, Requests: len(rs), Seconds: elapsed.Seconds(),
		Status: map[string]int{}, Idempotent: map[string]int{}, results: rs,
	}
	if elapsed > 0 {
		p.PerSecond = float64(len(rs)) / elapsed.Seconds()
	}
	lat := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		switch r.errKind {
		case errTimeout:
			p.Status["timeout"]++
			continue
		case errTransport:
			p.Status["error"]++
			continue
		}
		lat = append(lat, r.latency)
		p.Status[strconv.Itoa(int(r.status))]++
		p.Idempotent[[...]string{"none", "Original", "Repeated", "other"}[r.idem]]++
	}
	slices.Sort(lat)
	pct := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(q*float64(len(lat))+0.5) - 1
		return ms(lat[min(max(i, 0), len(lat)-1)])
	}
	p.LatencyMS = Latency{P50: pct(0.50), P90: pct(0.90), P99: pct(0.99), Max: pct(1)}
	return p
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// TargetOut is one target's share of the requests and, unless -no-stats,
// its counter's delta.
type TargetOut struct {
	URL        string `json:"url"`
	Requests   int    `json:"requests"`
	Executions *int64 `json:"executions,omitempty"`
}

// KeysOut counts keys.
type KeysOut struct {
	Sent         int `json:"sent"`          // keys with at least one request
	WithOriginal int `json:"with_original"` // keys that got at least one Idempotency-Status: Original
	// Unanswered: keys without an Original that had a request without an
	// answer (timeout, broken connection): it may have run unseen, so it
	// may account for one execution.
	Unanswered int `json:"unanswered"`
}

// ExecOut is the handler's counter before and after the run, summed over
// the targets.
type ExecOut struct {
	Before int64 `json:"before"`
	After  int64 `json:"after"`
	Delta  int64 `json:"delta"`
}

// DoubleRuns is the evidence that a key ran more than once.
type DoubleRuns struct {
	// MultipleOriginals: keys with more than one response marked
	// Idempotency-Status: Original.
	MultipleOriginals int `json:"multiple_originals"`
	// DistinctBodies: keys whose 2xx responses did not all carry the
	// same body (a replay repeats the original's bytes; a second run
	// answers a new id).
	DistinctBodies int `json:"distinct_bodies"`
	// ExtraExecutions: how far the counters' delta exceeds the number
	// of keys that got an Original, plus those without an Original that
	// may have run unseen (KeysOut.Unanswered); 0 when it does not, or
	// with -no-stats.
	ExtraExecutions int64 `json:"extra_executions"`
	// Examples: a few offending keys.
	Examples []string `json:"examples,omitempty"`
}

func (rep *Report) setExecutions(targets []string, before, after []int64) {
	e := &ExecOut{}
	rep.Targets = make([]TargetOut, len(targets))
	for i, t := range targets {
		d := after[i] - before[i]
		rep.Targets[i] = TargetOut{URL: t, Executions: &d}
		// Every target's counter counts, even when two read alike: two
		// instances can run the same number of keys, and merging them
		// would hide executions. One instance listed under two names is
		// counted twice, which fails the run: the safe direction.
		e.Before += before[i]
		e.After += after[i]
	}
	e.Delta = e.After - e.Before
	rep.Executions = e
}

// keyState is what the analysis keeps per key.
type keyState struct {
	originals int
	errors    int
	digest    uint64
	distinct  bool
}

// analyze counts per target and per key over every phase and decides OK.
func (rep *Report) analyze() {
	if rep.Targets == nil {
		rep.Targets = make([]TargetOut, len(rep.Config.Targets))
		for i, t := range rep.Config.Targets {
			rep.Targets[i].URL = t
		}
	}
	keys := map[uint64]*keyState{}
	var dr DoubleRuns
	for _, p := range rep.Phases {
		for _, r := range p.results {
			rep.Targets[r.target].Requests++
			k := keys[r.key]
			if k == nil {
				k = &keyState{}
				keys[r.key] = k
			}
			if r.errKind != errNone {
				rep.Errors++
				k.errors++
				continue
			}
			if r.idem == idemOriginal {
				k.originals++
			}
			if r.digest != 0 {
				if k.digest == 0 {
					k.digest = r.digest
				} else if k.digest != r.digest {
					k.distinct = true
				}
			}
		}
	}
	rep.Keys.Sent = len(keys)
	var bad []uint64
	for i, k := range keys {
		if k.originals > 0 {
			rep.Keys.WithOriginal++
		} else if k.errors > 0 {
			rep.Keys.Unanswered++
		}
		if k.originals > 1 {
			dr.MultipleOriginals++
		}
		if k.distinct {
			dr.DistinctBodies++
		}
		if k.originals > 1 || k.distinct {
			bad = append(bad, i)
		}
	}
	slices.Sort(bad)
	for _, i := range bad[:min(len(bad), 5)] {
		ex := fmt.Sprintf("#%d", i)
		if rep.keyName != nil {
			ex = rep.keyName(i)
		}
		dr.Examples = append(dr.Examples, ex)
	}
	if e := rep.Executions; e != nil {
		dr.ExtraExecutions = max(0, e.Delta-int64(rep.Keys.WithOriginal+rep.Keys.Unanswered))
	}
	rep.DoubleRuns = dr
	rep.OK = dr.MultipleOriginals == 0 && dr.DistinctBodies == 0 && dr.ExtraExecutions == 0
}

// readCounter reads GET url's {"executions":{name:N}}.
func readCounter(ctx context.Context, c *http.Client, url, name string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d %.200s", url, resp.StatusCode, b)
	}
	var snap struct {
		Executions map[string]int64 `json:"executions"`
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	n, ok := snap.Executions[name]
	if !ok {
		return 0, fmt.Errorf("GET %s: no counter %q in \"executions\" (set -stats-counter)", url, name)
	}
	return n, nil
}

// WriteTable prints rep for people.
func (rep *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	c := rep.Config
	fmt.Fprintf(tw, "mode %s: %d clients, %d keys x %d, cap %s", c.Mode, c.Clients, c.Keys, c.Dups, c.Duration)
	if c.Requests > 0 {
		fmt.Fprintf(tw, " / %d requests", c.Requests)
	}
	fmt.Fprintf(tw, ", POST %s\n\n", c.Path)

	fmt.Fprintln(tw, "phase\trequests\tseconds\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms")
	for _, p := range rep.Phases {
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\n", p.Name, p.Requests, p.Seconds, p.PerSecond,
			p.LatencyMS.P50, p.LatencyMS.P90, p.LatencyMS.P99, p.LatencyMS.Max)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "phase\toutcomes")
	for _, p := range rep.Phases {
		fmt.Fprintf(tw, "%s\tstatus %s\n", p.Name, counts(p.Status))
		fmt.Fprintf(tw, "\tIdempotency-Status %s\n", counts(p.Idempotent))
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "target\trequests\texecutions")
	for _, t := range rep.Targets {
		e := "-"
		if t.Executions != nil {
			e = strconv.FormatInt(*t.Executions, 10)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\n", t.URL, t.Requests, e)
	}
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "keys sent\t%d\n", rep.Keys.Sent)
	fmt.Fprintf(tw, "keys with an Original\t%d\n", rep.Keys.WithOriginal)
	if rep.Keys.Unanswered > 0 {
		fmt.Fprintf(tw, "keys without, unanswered\t%d\t(may have run unseen)\n", rep.Keys.Unanswered)
	}
	if e := rep.Executions; e != nil {
		fmt.Fprintf(tw, "handler executions\t%d\t(%s %d -> %d)\n", e.Delta, c.Counter, e.Before, e.After)
	} else {
		fmt.Fprintf(tw, "handler executions\tnot read (-no-stats)\n")
	}
	fmt.Fprintf(tw, "requests without an answer\t%d\n", rep.Errors)
	d := rep.DoubleRuns
	if rep.OK {
		fmt.Fprintf(tw, "double executions\tnone\n")
	} else {
		fmt.Fprintf(tw, "DOUBLE EXECUTIONS\t%d keys answered Original more than once, %d keys got different 2xx bodies, %d executions more than keys that may have run\n",
			d.MultipleOriginals, d.DistinctBodies, d.ExtraExecutions)
		if len(d.Examples) > 0 {
			fmt.Fprintf(tw, "\tkeys %s\n", strings.Join(d.Examples, " "))
		}
	}
	return tw.Flush()
}

// counts formats a map as "k=v k=v", keys sorted.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
