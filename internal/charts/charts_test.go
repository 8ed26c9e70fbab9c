package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const goTest = `goos: linux
pkg: github.com/idemkit/idempotency/core
cpu: AMD EPYC
BenchmarkFingerprint/canonical/200B-2         	  333531	      1712 ns/op	 100.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkFingerprint/canonical/200B-2         	  284210	      1244 ns/op	 300.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkFingerprint/canonical/200B-2         	  153906	      2265 ns/op	 200.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkFingerprint/raw-sha256/200B-2        	 1000000	       305.6 ns/op	 600.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkFingerprint/canonical/10MB-key-dense-2   	 5	  40000000 ns/op	 250.00 MB/s	 1024 B/op	       1 allocs/op
BenchmarkFingerprint/raw-sha256/10MB-key-dense-2  	 5	   7000000 ns/op	 1500.00 MB/s	       0 B/op	       0 allocs/op
BenchmarkFingerprintSizes/1MB/canonical-2         	 50	   4000000 ns/op	 260.00 MB/s
BenchmarkFingerprintKeys/camel/200B-2         	  285061	      1927 ns/op	 115.70 MB/s	       0 B/op	       0 allocs/op
BenchmarkGin/bare-2     	 1000000	      1000 ns/op	     160 B/op	       6 allocs/op
BenchmarkGin/first-2    	  100000	      5000 ns/op	    1671 B/op	      13 allocs/op
BenchmarkGin/replay-2   	  100000	      3000 ns/op	    1440 B/op	      14 allocs/op
BenchmarkScriptCPU/after/claim-2   	   20000	     52000 ns/op	        18.40 redis-µs/call
--- BENCH: some log line
PASS
ok  	github.com/idemkit/idempotency/core	12.3s
`

const benchstatCSV = `goos: linux
goarch: amd64
pkg: github.com/idemkit/idempotency/fiber
cpu: AMD EPYC
,sec/op,CI
Fiber/builtin/first-2,9.61e-06,10%
Fiber/idemfiber/first-2,1.92e-05,18%
geomean,1.3e-05,
,B/op,CI
Fiber/builtin/first-2,1512,0%
,allocs/op,CI
Fiber/builtin/first-2,17,0%
Fiber/idemfiber/first-2,28,0%
`

func TestParseBench(t *testing.T) {
	r := Results{}
	if err := Parse([]byte(goTest), r); err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Median("BenchmarkFingerprint/canonical/200B", "MB/s"); !ok || v != 200 {
		t.Errorf("median MB/s %v %v", v, ok)
	}
	if v, _ := r.Median("BenchmarkGin/first", "allocs/op"); v != 13 {
		t.Errorf("allocs %v", v)
	}
	if v, _ := r.Median("BenchmarkScriptCPU/after/claim", "redis-µs/call"); v != 18.4 {
		t.Errorf("custom metric %v", v)
	}
	sizes, mbps := FingerprintData(r)
	if want := []string{"200B", "1MB", "10MB-key-dense"}; !slices.Equal(sizes, want) {
		t.Errorf("sizes %q, want %q", sizes, want)
	}
	if !slices.Equal(mbps["canonical"], []float64{200, 260, 250}) || !slices.Equal(mbps["raw-sha256"], []float64{600, 0, 1500}) {
		t.Errorf("MB/s %v", mbps)
	}
}

func TestParseBenchstatCSV(t *testing.T) {
	r := Results{}
	if err := Parse([]byte(benchstatCSV), r); err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Median("BenchmarkFiber/idemfiber/first", "ns/op"); v < 19199 || v > 19201 {
		t.Errorf("ns/op %v", v)
	}
	if _, ok := r.Median("Benchmarkgeomean", "ns/op"); ok {
		t.Error("geomean parsed as a benchmark")
	}
	rows := AdapterRows(r)
	if len(rows) != 1 || rows[0].Label != "fiber first" || rows[0].IdemAllocs != 28 || rows[0].CeilAllocs != 17 {
		t.Errorf("rows %+v", rows)
	}
}

func TestParseSize(t *testing.T) {
	for tok, want := range map[string]float64{"200B": 200, "1KB": 1024, "100KB-text": 100 << 10, "10MB": 10 << 20, "1.5MiB": 1.5 * (1 << 20)} {
		if got, _, ok := ParseSize(tok); !ok || got != want {
			t.Errorf("%s: %v %v", tok, got, ok)
		}
	}
	for _, tok := range []string{"canonical", "MB", "10XB", ""} {
		if _, _, ok := ParseSize(tok); ok {
			t.Errorf("%q parsed as a size", tok)
		}
	}
}

const e2eFile = `# idemkit end-to-end suite
sample gin bare first 1 15695.2 0.773 4.973
summary gin bare first 15695.2 0.773 4.973 1.0000 1.0000
summary gin memory first 9038.9 1.364 6.988 0.5759 1.4052
summary gin redis replay 8278.7 1.736 5.274 0.4933 1.2340
summary gin broken line
`

// TestRun: the program renders every chart from a directory of inputs,
// as PNGs.
func TestRun(t *testing.T) {
	in, out := t.TempDir(), filepath.Join(t.TempDir(), "charts")
	for name, s := range map[string]string{"core.txt": goTest, "fiber.csv": benchstatCSV, "e2e.txt": e2eFile} {
		if err := os.WriteFile(filepath.Join(in, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := ParseE2E(strings.NewReader(e2eFile))
	if err != nil || len(rows) != 3 || rows[1].Variant != "memory" || rows[1].Ratio != 0.5759 {
		t.Fatalf("e2e %+v %v", rows, err)
	}
	var log bytes.Buffer
	if err := run([]string{"-in", in, "-out", out}, &log); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"adapters.png", "fingerprint.png", "e2e.png"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatalf("%v\n%s", err, log.String())
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || img.Bounds().Dx() < 600 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// When BenchmarkFingerprintScale ran, it alone is charted, and its body
// kind is part of each label, so that key-dense and text bodies of one
// size are two bars, not one overwriting the other.
func TestFingerprintScaleLabels(t *testing.T) {
	const out = `BenchmarkFingerprint/canonical/100KB-2   	 100	 600000 ns/op	 170.00 MB/s
BenchmarkFingerprintScale/key-dense/1KB/canonical-2   	 100	 6000 ns/op	 150.00 MB/s
BenchmarkFingerprintScale/key-dense/1KB/raw-sha256-2  	 100	 700 ns/op	 1450.00 MB/s
BenchmarkFingerprintScale/text/1KB/canonical-2        	 100	 1800 ns/op	 560.00 MB/s
BenchmarkFingerprintScale/text/1KB/raw-sha256-2       	 100	 800 ns/op	 1280.00 MB/s
`
	r := Results{}
	if err := Parse([]byte(out), r); err != nil {
		t.Fatal(err)
	}
	sizes, mbps := FingerprintData(r)
	if strings.Join(sizes, ",") != "1KB key-dense,1KB text" {
		t.Fatalf("sizes %q, want the two 1KB bodies only", sizes)
	}
	if mbps["canonical"][0] != 150 || mbps["canonical"][1] != 560 {
		t.Fatalf("canonical MB/s %v", mbps["canonical"])
	}
}
