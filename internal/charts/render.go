package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var errNoData = errors.New("no data")

// Colours: a baseline grey, idemkit blue, the ceiling (target) light red;
// for the end-to-end chart bare grey, memory blue, Redis orange.
var (
	grey   = color.RGBA{R: 150, G: 150, B: 150, A: 255}
	blue   = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	orange = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	pink   = color.RGBA{R: 240, G: 160, B: 160, A: 255}
)

type series struct {
	name   string
	values []float64 // one per category; 0 draws no bar
	color  color.Color
	labels []string // optional, one per category, drawn above the bars
}

// bars is a grouped bar chart: one group per category, one bar per
// series, for a panel panelW wide.
func bars(panelW vg.Length, title, ylabel string, categories []string, ss []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true
	p.X.Tick.Label.Rotation = 0
	// The groups share the axis (minus its labels) with a gap of a bar.
	w := (panelW - vg.Inch) / vg.Length(len(categories)*(len(ss)+1))
	ymax := 0.0
	for i, s := range ss {
		bc, err := plotter.NewBarChart(plotter.Values(s.values), w)
		if err != nil {
			return nil, err
		}
		bc.Color = s.color
		bc.LineStyle.Width = 0
		off := w * vg.Length(float64(i)-float64(len(ss)-1)/2)
		bc.Offset = off
		p.Add(bc)
		p.Legend.Add(s.name, bc)
		for _, v := range s.values {
			ymax = max(ymax, v)
		}
		if s.labels != nil {
			var xy plotter.XYLabels
			for c, l := range s.labels {
				if l == "" || s.values[c] == 0 {
					continue
				}
				xy.XYs = append(xy.XYs, plotter.XY{X: float64(c), Y: s.values[c]})
				xy.Labels = append(xy.Labels, l)
			}
			if len(xy.Labels) > 0 {
				lb, err := plotter.NewLabels(xy)
				if err != nil {
					return nil, err
				}
				for i := range lb.TextStyle {
					lb.TextStyle[i].Font.Size = vg.Points(9)
					lb.TextStyle[i].XAlign = draw.XCenter
				}
				lb.Offset = vg.Point{X: off, Y: vg.Points(2)}
				p.Add(lb)
			}
		}
	}
	p.Y.Max = ymax * 1.25 // room for the legend and the labels
	p.NominalX(categories...)
	// Half a category of room on each side, or the outer groups spill
	// over the edges.
	p.X.Min, p.X.Max = -0.5, float64(len(categories))-0.5
	return p, nil
}

// renderPNG draws plots side by side, each w x h.
func renderPNG(w, h vg.Length, plots ...*plot.Plot) ([]byte, error) {
	img := vgimg.NewWith(vgimg.UseWH(w*vg.Length(len(plots)), h), vgimg.UseDPI(96))
	dc := draw.New(img)
	// A white background: a transparent PNG reads badly in dark themes.
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(16), PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	var b bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// AdapterRow is one bar group of adapters.png.
type AdapterRow struct {
	Label                              string // "gin first"
	BaseNs, IdemNs, CeilNs             float64
	BaseAllocs, IdemAllocs, CeilAllocs float64
}

// find returns the first name with prefix whose '/' segments after the
// first include every seg, or "".
func find(r Results, prefix string, segs ...string) string {
	for _, n := range r.Names() {
		parts := strings.Split(n, "/")
		if parts[0] != prefix {
			continue
		}
		ok := true
		for _, s := range segs {
			if !slices.Contains(parts[1:], s) {
				ok = false
				break
			}
		}
		if ok {
			return n
		}
	}
	return ""
}

// AdapterRows reads the framework benchmarks: Gin and Echo against the
// bare handler (BenchmarkGin/{bare,first,replay}), Fiber against its
// built-in middleware (BenchmarkFiber/{builtin,idemfiber}/{first,replay}).
// The ceiling is SPEC §7's: bare + 2.5 µs and 5 allocations (first),
// + 1.5 µs and 4 (replay); for Fiber, the built-in middleware.
func AdapterRows(r Results) []AdapterRow {
	var rows []AdapterRow
	med := func(n, u string) float64 { v, _ := r.Median(n, u); return v }
	for _, fw := range []struct{ name, bench string }{{"gin", "BenchmarkGin"}, {"echo", "BenchmarkEcho"}} {
		bare := find(r, fw.bench, "bare")
		for _, mode := range []string{"first", "replay"} {
			n := find(r, fw.bench, mode)
			if bare == "" || n == "" {
				continue
			}
			dns, dal := 2500.0, 5.0
			if mode == "replay" {
				dns, dal = 1500, 4
			}
			rows = append(rows, AdapterRow{Label: fw.name + " " + mode,
				BaseNs: med(bare, "ns/op"), IdemNs: med(n, "ns/op"), CeilNs: med(bare, "ns/op") + dns,
				BaseAllocs: med(bare, "allocs/op"), IdemAllocs: med(n, "allocs/op"), CeilAllocs: med(bare, "allocs/op") + dal})
		}
	}
	for _, mode := range []string{"first", "replay"} {
		b, n := find(r, "BenchmarkFiber", "builtin", mode), find(r, "BenchmarkFiber", "idemfiber", mode)
		if b == "" || n == "" {
			continue
		}
		rows = append(rows, AdapterRow{Label: "fiber " + mode,
			BaseNs: med(b, "ns/op"), IdemNs: med(n, "ns/op"), CeilNs: med(b, "ns/op"),
			BaseAllocs: med(b, "allocs/op"), IdemAllocs: med(n, "allocs/op"), CeilAllocs: med(b, "allocs/op")})
	}
	return rows
}

// Adapters renders adapters.png.
func Adapters(r Results) ([]byte, error) {
	rows := AdapterRows(r)
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no BenchmarkGin, BenchmarkEcho or BenchmarkFiber results", errNoData)
	}
	var cats []string
	var bns, ins, cns, bal, ial, cal []float64
	var over []string
	for _, x := range rows {
		cats = append(cats, x.Label)
		bns, ins, cns = append(bns, x.BaseNs/1000), append(ins, x.IdemNs/1000), append(cns, x.CeilNs/1000)
		bal, ial, cal = append(bal, x.BaseAllocs), append(ial, x.IdemAllocs), append(cal, x.CeilAllocs)
		over = append(over, fmt.Sprintf("%.1fx", x.IdemNs/x.BaseNs))
	}
	const pw = 7 * vg.Inch
	t, err := bars(pw, "Time per request (median)", "µs", cats, []series{
		{name: "baseline: bare handler (gin, echo) / Fiber's own middleware", values: bns, color: grey},
		{name: "idemkit (label: ÷ baseline)", values: ins, color: blue, labels: over},
		{name: "SPEC §7 ceiling", values: cns, color: pink},
	})
	if err != nil {
		return nil, err
	}
	a, err := bars(pw, "Allocations per request", "allocs/op", cats, []series{
		{name: "baseline", values: bal, color: grey},
		{name: "idemkit", values: ial, color: blue},
		{name: "SPEC §7 ceiling", values: cal, color: pink},
	})
	if err != nil {
		return nil, err
	}
	return renderPNG(pw, 4.5*vg.Inch, t, a)
}

// FingerprintData reads the fingerprint benchmarks: names starting with
// BenchmarkFingerprint whose segments hold a method (canonical,
// raw-sha256) and a body size ("200B", "100KB-text", "10MB"), in any
// order and under any extra segments. It returns the size labels,
// ordered by bytes, and the MB/s of each method per size (0: missing).
func FingerprintData(r Results) (sizes []string, mbps map[string][]float64) {
	type sz struct {
		label string
		bytes float64
	}
	methods := []string{"canonical", "raw-sha256"}
	vals := map[string]map[string]float64{}
	var all []sz
	seen := map[string]bool{}
	// BenchmarkFingerprintScale names its body kind ("key-dense",
	// "text") in a segment of its own; when it ran, it alone is charted,
	// so that one size never appears twice under two families.
	family := "BenchmarkFingerprint"
	for _, n := range r.Names() {
		if strings.HasPrefix(n, "BenchmarkFingerprintScale/") {
			family = "BenchmarkFingerprintScale"
			break
		}
	}
	for _, n := range r.Names() {
		parts := strings.Split(n, "/")
		if !strings.HasPrefix(parts[0], family) {
			continue
		}
		var method, size string
		var kind []string
		var bytes float64
		for _, p := range parts[1:] {
			if slices.Contains(methods, p) {
				method = p
			} else if p == "raw" || p == "sha256" {
				method = "raw-sha256"
			} else if b, _, ok := ParseSize(p); ok {
				size, bytes = p, b
			} else {
				kind = append(kind, p)
			}
		}
		if len(kind) > 0 && size != "" {
			size += " " + strings.Join(kind, " ")
		}
		v, ok := r.Median(n, "MB/s")
		if method == "" || size == "" || !ok {
			continue
		}
		if vals[method] == nil {
			vals[method] = map[string]float64{}
		}
		vals[method][size] = v
		if !seen[size] {
			seen[size] = true
			all = append(all, sz{size, bytes})
		}
	}
	slices.SortFunc(all, func(a, b sz) int {
		if a.bytes != b.bytes {
			if a.bytes < b.bytes {
				return -1
			}
			return 1
		}
		return strings.Compare(a.label, b.label)
	})
	mbps = map[string][]float64{}
	for _, s := range all {
		sizes = append(sizes, s.label)
		for _, m := range methods {
			mbps[m] = append(mbps[m], vals[m][s.label])
		}
	}
	return sizes, mbps
}

// Fingerprint renders fingerprint.png.
func Fingerprint(r Results) ([]byte, error) {
	sizes, mbps := FingerprintData(r)
	if len(sizes) == 0 {
		return nil, fmt.Errorf("%w: no BenchmarkFingerprint results with a method, a size and MB/s", errNoData)
	}
	var ratio []string
	for i := range sizes {
		c, raw := mbps["canonical"][i], mbps["raw-sha256"][i]
		l := ""
		if c > 0 && raw > 0 {
			l = fmt.Sprintf("%.2fx", c/raw)
		}
		ratio = append(ratio, l)
	}
	pw := vg.Length(max(7, 1.4*float64(len(sizes)))) * vg.Inch
	p, err := bars(pw, "Fingerprint throughput by body size (median, SHA-256)", "MB/s", sizes, []series{
		{name: "canonical JSON (label: ÷ raw)", values: mbps["canonical"], color: blue, labels: ratio},
		{name: "raw SHA-256 of the bytes (the floor)", values: mbps["raw-sha256"], color: grey},
	})
	if err != nil {
		return nil, err
	}
	return renderPNG(pw, 4.5*vg.Inch, p)
}

// EndToEnd renders e2e.png from the suite's summaries.
func EndToEnd(rows []E2E) ([]byte, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no end-to-end summary (go run ./examples/load -suite e2e -out bench/e2e.txt)", errNoData)
	}
	var cats []string
	idx := map[string]int{}
	for _, r := range rows {
		c := r.Framework + " " + r.Mode
		if _, ok := idx[c]; !ok {
			idx[c] = len(cats)
			cats = append(cats, c)
		}
	}
	variants := []struct {
		name  string
		color color.Color
	}{{"bare", grey}, {"memory", blue}, {"redis", orange}}
	var rps, p99 []series
	for _, v := range variants {
		s := series{name: v.name, color: v.color, values: make([]float64, len(cats)), labels: make([]string, len(cats))}
		q := series{name: v.name, color: v.color, values: make([]float64, len(cats)), labels: make([]string, len(cats))}
		any := false
		for _, r := range rows {
			if r.Variant != v.name {
				continue
			}
			any = true
			i := idx[r.Framework+" "+r.Mode]
			s.values[i], q.values[i] = r.PerSecond, r.P99
			if v.name != "bare" {
				s.labels[i], q.labels[i] = fmt.Sprintf("%.2f", r.Ratio), fmt.Sprintf("%.2f", r.P99Ratio)
			}
		}
		if any {
			rps, p99 = append(rps, s), append(p99, q)
		}
	}
	pw := vg.Length(max(6.5, 1.1*float64(len(cats)))) * vg.Inch
	a, err := bars(pw, "End to end: requests/s (label: ÷ bare, median of paired rounds)", "req/s", cats, rps)
	if err != nil {
		return nil, err
	}
	b, err := bars(pw, "End to end: p99 latency (label: ÷ bare, median of paired rounds)", "ms", cats, p99)
	if err != nil {
		return nil, err
	}
	return renderPNG(pw, 4.5*vg.Inch, a, b)
}
