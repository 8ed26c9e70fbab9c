package main

import (
	"bufio"
	"encoding/csv"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Results holds benchmark measurements by name (GOMAXPROCS suffix
// removed, e.g. "BenchmarkGin/first") and unit ("ns/op", "MB/s",
// "B/op", "allocs/op", or a custom metric such as "redis-µs/call"); each
// holds one value per run.
type Results map[string]map[string][]float64

func (r Results) add(name, unit string, v float64) {
	m := r[name]
	if m == nil {
		m = map[string][]float64{}
		r[name] = m
	}
	m[unit] = append(m[unit], v)
}

// Median returns the median of name's unit and whether there is one.
func (r Results) Median(name, unit string) (float64, bool) {
	vs := r[name][unit]
	if len(vs) == 0 {
		return 0, false
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2], true
	} else {
		return (s[n/2-1] + s[n/2]) / 2, true
	}
}

// Names returns the benchmark names, sorted.
func (r Results) Names() []string {
	var ns []string
	for n := range r {
		ns = append(ns, n)
	}
	slices.Sort(ns)
	return ns
}

var procSuffix = regexp.MustCompile(`-\d+$`)

// trimProcs removes the -GOMAXPROCS suffix go test adds.
func trimProcs(name string) string { return procSuffix.ReplaceAllString(name, "") }

// ParseBench reads `go test -bench` text output into r: every line
// "BenchmarkX-N <iterations> <value> <unit> [<value> <unit>]...", other
// lines (goos, pkg, cpu, PASS, ok, log output) ignored.
func ParseBench(rd io.Reader, r Results) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.ParseInt(f[1], 10, 64); err != nil {
			continue
		}
		name := trimProcs(f[0])
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			r.add(name, f[i+1], v)
		}
	}
	return sc.Err()
}

// ParseBenchstatCSV reads `benchstat -format csv` output into r: each
// table starts with a header row whose first cell is empty and whose
// other cells name units (sec/op, B/op, allocs/op, B/s; CI columns are
// skipped); its rows are "name,value,CI[,value,CI...]". Units are
// converted to go test's (sec/op to ns/op, B/s to MB/s) so that both
// inputs read alike. benchstat's summary row "geomean" is skipped.
func ParseBenchstatCSV(rd io.Reader, r Results) error {
	cr := csv.NewReader(rd)
	cr.FieldsPerRecord = -1
	var units []string
	for {
		row, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(row) < 2 {
			continue
		}
		if row[0] == "" {
			units = row
			continue
		}
		if units == nil || row[0] == "geomean" {
			continue
		}
		name := row[0]
		if !strings.HasPrefix(name, "Benchmark") {
			name = "Benchmark" + name // benchstat drops the prefix
		}
		name = trimProcs(name)
		for i := 1; i < len(row) && i < len(units); i++ {
			u := units[i]
			if u == "" || u == "CI" || strings.HasPrefix(u, "vs ") || u == "P" {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(row[i]), 64)
			if err != nil {
				continue
			}
			switch u {
			case "sec/op":
				u, v = "ns/op", v*1e9
			case "B/s":
				u, v = "MB/s", v/1e6
			}
			r.add(name, u, v)
		}
	}
}

// Parse reads one file, benchstat CSV when it looks like one, go test
// output otherwise.
func Parse(data []byte, r Results) error {
	s := string(data)
	if strings.Contains(s, ",sec/op") || strings.Contains(s, ",B/op") || strings.Contains(s, ",allocs/op") {
		return ParseBenchstatCSV(strings.NewReader(s), r)
	}
	return ParseBench(strings.NewReader(s), r)
}

// E2E is one summary line of the end-to-end suite's results
// (go run ./examples/load -suite e2e -out FILE).
type E2E struct {
	Framework, Variant, Mode string
	PerSecond, P50, P99      float64
	Ratio, P99Ratio          float64
}

// ParseE2E reads the suite's "summary" records:
//
//	summary framework variant mode req_s p50_ms p99_ms ratio p99_ratio
//
// Comments (#) and other records (sample) are skipped.
func ParseE2E(rd io.Reader) ([]E2E, error) {
	var out []E2E
	sc := bufio.NewScanner(rd)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 9 || f[0] != "summary" {
			continue
		}
		var nums [5]float64
		ok := true
		for i := range nums {
			v, err := strconv.ParseFloat(f[4+i], 64)
			if err != nil {
				ok = false
				break
			}
			nums[i] = v
		}
		if !ok {
			continue
		}
		out = append(out, E2E{Framework: f[1], Variant: f[2], Mode: f[3],
			PerSecond: nums[0], P50: nums[1], P99: nums[2], Ratio: nums[3], P99Ratio: nums[4]})
	}
	return out, sc.Err()
}

var sizeToken = regexp.MustCompile(`^(\d+(?:\.\d+)?)(B|KB|KiB|K|MB|MiB|M|GB)(?:[-_](.+))?$`)

// ParseSize reads a body-size token of a sub-benchmark name ("200B",
// "100KB", "100KB-text", "1MB", "10MiB-key-dense"): its bytes and the
// variant after the size ("text"), ok false when it is not one.
func ParseSize(tok string) (bytes float64, variant string, ok bool) {
	m := sizeToken.FindStringSubmatch(tok)
	if m == nil {
		return 0, "", false
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	mult := map[string]float64{"B": 1, "K": 1 << 10, "KB": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "MB": 1 << 20, "MiB": 1 << 20, "GB": 1 << 30}[m[2]]
	return v * mult, m[3], true
}
