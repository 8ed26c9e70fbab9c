package canonjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/internal/canonjson/refcanon"
)

// streamed collects what Stream writes, and counts the writes.
type streamed struct {
	bytes.Buffer
	writes int
}

func (s *streamed) Write(p []byte) (int, error) {
	s.writes++
	return s.Buffer.Write(p)
}

// streamLimits are holder limits and flush sizes under which streaming
// must write what Append writes: tiny ones escalate every object and
// flush after every value.
var streamLimits = []struct{ limit, flush int }{
	{1 << 62, 32 << 10}, {1, 1}, {8, 3}, {40, 16}, {1 << 10, 1 << 10},
}

// checkStream compares Stream (prefixed by "P", under every limit) with
// the materialising canonicaliser of 5eaa2c1.
func checkStream(t *testing.T, c *Canon, in []byte, paths ...string) {
	t.Helper()
	ig, _ := CompileIgnore(paths...)
	rig, _ := refcanon.CompileIgnore(paths...)
	var ref refcanon.Canon
	want, werr := ref.Append([]byte("P"), in, rig)
	for _, l := range streamLimits {
		var w streamed
		buf, err := c.stream(&w, []byte("P"), in, ig, l.limit, l.flush)
		if len(buf) != 0 {
			t.Fatalf("stream returned a non-empty buffer")
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("stream(%q, limit %d, flush %d) error %v, reference %v", in, l.limit, l.flush, err, werr)
		}
		if err == nil && !bytes.Equal(w.Bytes(), want) {
			t.Fatalf("stream(%q, limit %d, flush %d) = %q, reference %q", in, l.limit, l.flush, w.Bytes(), want)
		}
	}
}

func FuzzCanonicalStream(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"b":1,"a":[true,false,null,"x"]}`, `{"a":1,"a":2}`, `{"z":{"b":1,"a":2},"y":[{"d":4,"c":3}],"\u0061":0}`,
		`{"amount":1,"AMOUNT":1000}`, `{"a":1,"A":2,"a":3}`, `{"a":1,"B":2,"A":3}`, "{\"k\":1,\"\u212a\":2,\"K\":3}",
		`{"b":{"x":1},"z":0,"b":{"y":2}}`, `{"k":[{"a":1}],"k":[{"x":2},{"a":3}]}`, `{"b":[1 2],"a":1}`, `{"b":12x,"a":1}`,
		`{"b":"x\"y","a":[{"d":"]","c":"}"}]}`, `{"b":{"a":1]}`, `{"b":[1,{"c":2,"b":1}],"a":"\u00e9"}`, `{"b":1,"a":2,}`,
		`{"meta":{"z":1,"a":2},"b":[{"z":[1],"y":{"q":1,"p":2}}]}`, `[{"b":1,"a":2},{"b":1,"a":2},{"a":1,"b":2}]`,
		`{"b":1 , "a" : [ 1 , 2 ] }`, `{"b":1,"a":tru}`, `{"b":1,"a":-}`, `{"b":{"c":{"d":{"f":1,"e":2}}},"a":1}`,
	} {
		f.Add([]byte(s))
	}
	var c Canon
	f.Fuzz(func(t *testing.T, in []byte) {
		checkStream(t, &c, in)
		checkStream(t, &c, in, "meta.z", "*.y", "b.*.z")
	})
}

func TestStreamMatchesReference(t *testing.T) {
	var c Canon
	for _, body := range refBodies(15, 800) {
		checkStream(t, &c, []byte(body))
		checkStream(t, &c, []byte(body), "*.note", "*.*.k", "*.client_request_id")
	}
	// Deep nesting in ordered mode (every object escalates under limit 1),
	// at and beyond MaxDepth.
	for _, d := range []int{MaxDepth - 1, MaxDepth, MaxDepth + 1} {
		deep := strings.Repeat(`{"b":1,"a":`, d) + `0` + strings.Repeat(`}`, d)
		checkStream(t, &c, []byte(deep))
		deepArr := strings.Repeat(`{"b":1,"a":[`, d/2) + `0` + strings.Repeat(`]}`, d/2)
		checkStream(t, &c, []byte(deepArr))
	}
}

// TestStreamLargeBodyBounded checks that a large body streams: many
// writes, and scratch that does not grow with the body.
func TestStreamLargeBodyBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"z":0,"items":[`)
	for i := range 40000 {
		if i > 0 {
			b.WriteString(`,`)
		}
		b.WriteString(`{"sku":"SKU-1","qty":2,"price":1.50,"note":"a note"}`)
	}
	b.WriteString(`],"a":{"y":[1,2,3],"x":"` + strings.Repeat("t", 100000) + `"}}`)
	src := []byte(b.String())
	var c Canon
	var w streamed
	buf, err := c.Stream(&w, nil, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ref refcanon.Canon
	want, _ := ref.Append(nil, src, nil)
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatal("streamed output differs from the reference")
	}
	if w.writes < 10 {
		t.Errorf("%d writes for %d bytes: not streamed", w.writes, len(src))
	}
	if cap(buf) > 512<<10 {
		t.Errorf("buffer grew to %d bytes for a %d-byte body", cap(buf), len(src))
	}
	allocs := testing.AllocsPerRun(3, func() {
		w.Reset()
		buf, _ = c.Stream(&w, buf, src, nil)
	})
	if allocs > 2 {
		t.Errorf("%v allocations per large body", allocs)
	}
}

// TestSkipMasks checks that the lowest byte the skip pass's SWAR masks
// flag is the first byte of interest, for words mixing every byte value
// around the special ones.
func TestSkipMasks(t *testing.T) {
	interesting := []byte{0, 0x1f, 0x20, '"', '\\', '[', ']', '{', '}', 0x5a, 0x7c, 0x7e, 0x80, 0xa2, 0xdb, 0xfb, 0xff, 'a', 0x21, 0x23}
	first := func(w uint64, want func(byte) bool) int {
		for k := range 8 {
			if want(byte(w >> (8 * k))) {
				return k
			}
		}
		return 8
	}
	r := uint64(1)
	for n := 0; n < 200000; n++ {
		var w uint64
		for k := range 8 {
			r = r*6364136223846793005 + 1442695040888963407
			w |= uint64(interesting[int(r>>33)%len(interesting)]) << (8 * k)
		}
		for _, c := range []struct {
			mask func(uint64) uint64
			want func(byte) bool
		}{
			{quoteOrSlash, func(b byte) bool { return b == '"' || b == '\\' }},
			{structural, func(b byte) bool { return strings.IndexByte(`"[]{}`, b) >= 0 }},
		} {
			got := 8
			if m := c.mask(w); m != 0 {
				got = trailingBytes(m)
			}
			if want := first(w, c.want); got != want {
				t.Fatalf("word %#016x: first flagged byte %d, want %d", w, got, want)
			}
		}
	}
}

// TestLongRunsMatchReference puts every kind of byte that ends a string
// run (quote, escape, control character, invalid UTF-8, a multi-byte
// rune) at every offset of long strings, so that the 32- and 8-byte scans
// and skips meet them at every alignment.
func TestLongRunsMatchReference(t *testing.T) {
	var c Canon
	for _, special := range []string{`\"`, `\\`, `\n`, `\u00e9`, "\u00e9", "\x01", "\xff", `"`, `]`, `}`, `\ud83d\ude00`} {
		for off := 0; off < 70; off++ {
			s := strings.Repeat("a", off) + special + strings.Repeat("b", 70-off)
			for _, doc := range []string{
				`{"z":"` + s + `","a":["` + s + `",{"y":1,"x":"` + s + `"}]}`,
				`["` + s + `"]`,
			} {
				checkStream(t, &c, []byte(doc))
				var ref refcanon.Canon
				want, werr := ref.Append(nil, []byte(doc), nil)
				got, err := c.Append(nil, []byte(doc), nil)
				if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
					t.Fatalf("Append(%q) = %q, %v; reference %q, %v", doc, got, err, want, werr)
				}
			}
		}
	}
}
