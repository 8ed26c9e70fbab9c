package canonjson

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/bytedance/sonic"
)

// canonicalize runs the canonicaliser on src with the given ignored paths.
func canonicalize(src string, ignore ...string) (string, error) {
	ig, err := CompileIgnore(ignore...)
	if err != nil {
		return "", err
	}
	var c Canon
	out, err := c.Append(nil, []byte(src), ig)
	return string(out), err
}

func mustCanon(t *testing.T, src string, ignore ...string) string {
	t.Helper()
	out, err := canonicalize(src, ignore...)
	if err != nil {
		t.Fatalf("canonicalize(%q) error %v", src, err)
	}
	return out
}

func TestCanonicalJSONExact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`[]`, `[]`},
		{` { } `, `{}`},
		{"\t[ \n ]\r\n", `[]`},
		{`true`, `true`},
		{`false`, `false`},
		{`null`, `null`},
		{`"x"`, `"x"`},
		{`{"b":1,"a":2}`, `{"a":2,"b":1}`},
		{`{"a":2,"b":1}`, `{"a":2,"b":1}`},
		{` { "b" : 1 , "a" : [ 1 , 2 , { "d" : null , "c" : true } ] } `, `{"a":[1,2,{"c":true,"d":null}],"b":1}`},
		{`[3,1,2]`, `[3,1,2]`}, // arrays keep their order
		// A repeated key keeps every member, in document order.
		{`{"a":1,"a":2}`, `{"a":1,"a":2}`},
		{`{"a":2,"a":1}`, `{"a":2,"a":1}`},
		{`{"a":1,"b":0,"a":2}`, `{"a":1,"a":2,"b":0}`},
		{`{"b":0,"a":1,"a":{"x":1},"a":[3]}`, `{"a":1,"a":{"x":1},"a":[3],"b":0}`},
		{`{"a":{"z":1,"y":2},"a":{"q":1}}`, `{"a":{"y":2,"z":1},"a":{"q":1}}`},
		{`{"c":1,"a":null,"b":2,"a":5,"c":0}`, `{"a":null,"a":5,"b":2,"c":1,"c":0}`},
		{`{"A":1,"a":2,"_":3,"1":4,"":5}`, `{"":5,"1":4,"A":1,"_":3,"a":2}`},
		// strings
		{`"\u0041"`, `"A"`},
		{`"\u00e9"`, "\"\u00e9\""},
		{`"\u00E9"`, "\"\u00e9\""},
		{`"\/"`, `"/"`},
		{`"\""`, `"\""`},
		{`"\u0022"`, `"\""`},
		{`"\\"`, `"\\"`},
		{`"\u005c"`, `"\\"`},
		{`"\u005C"`, `"\\"`},
		{`"\b\f\n\r\t"`, `"\b\f\n\r\t"`},
		{`"\u0008\u000c\u000a\u000d\u0009"`, `"\b\f\n\r\t"`},
		{`"\u0000\u001f\u001F"`, `"\u0000\u001f\u001f"`},
		{`"\u007f"`, "\"\x7f\""},
		{`"\ud83d\ude00"`, "\"\U0001F600\""},
		{`"\uD83D\uDE00"`, "\"\U0001F600\""},
		{"\"\U0001F600\"", "\"\U0001F600\""},
		{`"\udbff\udfff"`, "\"\U0010FFFF\""},   // highest pair
		{`"\ud7ff\ue000"`, "\"\ud7ff\ue000\""}, // neighbours of the surrogates
		{"\"\xef\xbf\xbd\"", "\"\ufffd\""},     // U+FFFD itself is fine
		{`"a\"b\\c"`, `"a\"b\\c"`},
		{`"long string without any escapes at all, more than eight bytes"`, `"long string without any escapes at all, more than eight bytes"`},
		{`"12345678\n"`, `"12345678\n"`},
		{`"1234567\u0041"`, `"1234567A"`},
		{"\"\u00fc\u00f1\u00ef\u00e7\u00f8d\u00e9 \u65e5\u672c\"", "\"\u00fc\u00f1\u00ef\u00e7\u00f8d\u00e9 \u65e5\u672c\""},
		{`{"\u0062":1,"a":2}`, `{"a":2,"b":1}`}, // keys are unescaped before sorting
		{`{"b":1,"\u0062":2}`, `{"b":1,"b":2}`}, // and are then the same key
		// numbers
		{`0`, `0`},
		{`-0`, `0`},
		{`0.0`, `0`},
		{`-0.0e5`, `0`},
		{`0e-7`, `0`},
		{`1`, `1`},
		{`-1`, `-1`},
		{`1.0`, `1`},
		{`1.000`, `1`},
		{`10e-1`, `1`},
		{`0.1e1`, `1`},
		{`1e0`, `1`},
		{`1E+0`, `1`},
		{`100`, `1e2`},
		{`1e2`, `1e2`},
		{`1E2`, `1e2`},
		{`1e+2`, `1e2`},
		{`0.01e4`, `1e2`},
		{`-100`, `-1e2`},
		{`123`, `123`},
		{`120`, `12e1`},
		{`1.5`, `15e-1`},
		{`-1.5`, `-15e-1`},
		{`10.5`, `105e-1`},
		{`0.05`, `5e-2`},
		{`0.50`, `5e-1`},
		{`5e-2`, `5e-2`},
		{`100.0`, `1e2`},
		{`1.05e1`, `105e-1`},
		{`1e-0003`, `1e-3`},
		{`123456789012345678901234567890`, `12345678901234567890123456789e1`},
		{`0.1000000000000000000000000000001`, `1000000000000000000000000000001e-31`},
		{`9007199254740993`, `9007199254740993`}, // no float rounding
		{`[1,1.0,-0,0.0]`, `[1,1,0,0]`},
	}
	for _, tt := range tests {
		got, err := canonicalize(tt.in)
		if err != nil {
			t.Errorf("canonicalize(%q) error %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("canonicalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// The output is itself valid JSON and canonical.
		if !json.Valid([]byte(got)) {
			t.Errorf("canonicalize(%q) = %q: not valid JSON", tt.in, got)
		}
		if again := mustCanon(t, got); again != got {
			t.Errorf("canonicalize not idempotent: %q -> %q -> %q", tt.in, got, again)
		}
	}
}

func TestCanonicalNumbersEqualValues(t *testing.T) {
	groups := [][]string{
		{"1", "1.0", "10e-1", "0.1e1", "1e0", "1.00000", "100e-2", "0.001e3", "1E0", "1e+0", "0.0001E+4"},
		{"0", "-0", "0.0", "-0.0", "0e10", "0E-10", "-0e0", "0.000"},
		{"100", "1e2", "10e1", "100.0", "1000e-1", "0.1e3", "1E+2"},
		{"-2.5", "-25e-1", "-0.25e1", "-250e-2", "-2.50"},
		{"123.456", "123456e-3", "1.23456e2", "0.123456e3"},
	}
	for _, g := range groups {
		want := mustCanon(t, g[0])
		for _, n := range g[1:] {
			if got := mustCanon(t, n); got != want {
				t.Errorf("%s -> %s, but %s -> %s", g[0], want, n, got)
			}
		}
	}
	different := []string{"1", "-1", "2", "10", "0.1", "1.1", "11", "1e-2", "1e3", "101", "1.01", "0", "1e10", "1e-10", "12", "21", "120", "102"}
	seen := map[string]string{}
	for _, n := range different {
		c := mustCanon(t, n)
		if prev, ok := seen[c]; ok {
			t.Errorf("%s and %s both canonicalise to %s", prev, n, c)
		}
		seen[c] = n
	}
}

// TestCanonicalNumbersMatchFloat checks against float64 parsing for
// numbers that float64 represents exactly: equal floats must give equal
// canonical forms and different floats different forms.
func TestCanonicalNumbersMatchFloat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	byCanon := map[string]float64{}
	byFloat := map[float64]string{}
	for i := 0; i < 5000; i++ {
		mant := r.IntN(2000) - 1000
		shift := r.IntN(4)
		if mant == 0 {
			shift = 0 // "000" is not a JSON number
		}
		var s string
		switch r.IntN(3) {
		case 0:
			s = fmt.Sprint(mant)
		case 1:
			s = fmt.Sprintf("%de%d", mant, shift)
		default:
			s = fmt.Sprintf("%d%s", mant, strings.Repeat("0", shift))
			if r.IntN(2) == 0 {
				s += "." + strings.Repeat("0", r.IntN(3)+1)
			}
		}
		var f float64
		if err := json.Unmarshal([]byte(s), &f); err != nil {
			t.Fatalf("reference rejected %q: %v", s, err)
		}
		c := mustCanon(t, s)
		if prev, ok := byCanon[c]; ok && prev != f {
			t.Fatalf("%q canonicalises to %s like %v, but its value is %v", s, c, prev, f)
		}
		if prev, ok := byFloat[f]; ok && prev != c {
			t.Fatalf("%q has value %v but canonical %s, another had %s", s, f, c, prev)
		}
		byCanon[c], byFloat[f] = f, c
	}
}

func TestCanonicalHugeExponents(t *testing.T) {
	for _, in := range []string{
		"1e99999999999",
		"1e-99999999999",
		"[1e12345678901234567890]",
		`{"a":1E+100000000000}`,
	} {
		if _, err := canonicalize(in); !errors.Is(err, ErrNotJSON) {
			t.Errorf("canonicalize(%q) error %v, want ErrNotJSON", in, err)
		}
	}
	// Large but sane exponents are fine, and equal values stay equal.
	if a, b := mustCanon(t, "1e400"), mustCanon(t, "10e399"); a != b || a != "1e400" {
		t.Errorf("1e400 -> %s, 10e399 -> %s", a, b)
	}
	for _, zero := range []string{"0e99999999999", "-0.0e-99999999999"} {
		if a := mustCanon(t, zero); a != "0" {
			t.Errorf("%s -> %s, want 0", zero, a)
		}
	}
	if a := mustCanon(t, "1e0000000000000000000002"); a != "1e2" {
		t.Errorf("leading zeros in exponent: %s", a)
	}
}

// TestCanonicalHugeExponentsByValue checks that acceptance depends on the
// value, not on how it is written: equal numbers are either both rejected
// or canonicalise to the same bytes, and canonical output canonicalises
// to itself.
func TestCanonicalHugeExponentsByValue(t *testing.T) {
	groups := [][]string{
		{"1e1000000010", "100000000000e999999999", "10e1000000009", "0.1e1000000011"},
		{"1e-1000000010", "0.00000000001e-999999999", "100e-1000000012"},
		{"1e999999999", "10e999999998", "0.1e1000000000"},
	}
	for _, g := range groups {
		first, ferr := canonicalize(g[0])
		for _, in := range g[1:] {
			out, err := canonicalize(in)
			if (err == nil) != (ferr == nil) || out != first {
				t.Errorf("%s -> %q, %v but %s -> %q, %v", g[0], first, ferr, in, out, err)
			}
			if err == nil {
				if again, err := canonicalize(out); err != nil || again != out {
					t.Errorf("%s -> %s -> %q, %v", in, out, again, err)
				}
			}
		}
	}
}

func TestCanonicalRejectsInvalid(t *testing.T) {
	invalid := []string{
		``, ` `, `{`, `}`, `[`, `]`, `{]`, `[}`, `{"a"}`, `{"a":}`, `{"a" 1}`, `{a:1}`, `{'a':1}`,
		`{"a":1,}`, `{,"a":1}`, `{"a":1 "b":2}`, `[1,]`, `[,1]`, `[1 2]`, `[1,,2]`,
		`"abc`, `"abc\"`, `"\x"`, `"\u12"`, `"\u12G4"`, `"\U0041"`, `"\`, `"\u"`, `"\'"`,
		`tru`, `True`, `nul`, `nulll`, `falsey`, `NaN`, `Infinity`, `-Infinity`, `undefined`,
		`01`, `-01`, `00`, `1.`, `.1`, `-.1`, `1.e1`, `1e`, `1e+`, `1e-`, `+1`, `-`, `--1`, `0x10`, `1_000`,
		`{} {}`, `[] x`, `1 2`, `"a" "b"`, `{}}`, `[]]`, `truefalse`, `nullx`, `1a`,
		"\"a\x00b\"", "\"a\nb\"", "\"tab\there\"", "\"\x1f\"", "\"12345678\x01\"",
		"\x00", "\ufeff{}", "{}\x00",
		`{"a":1}garbage`, `{"a":1},`, `[1]]`,
		"\v{}", "{}\f",
	}
	for _, in := range invalid {
		if _, err := canonicalize(in); !errors.Is(err, ErrNotJSON) {
			t.Errorf("canonicalize(%q) error %v, want ErrNotJSON", in, err)
		}
		if json.Valid([]byte(in)) {
			t.Errorf("test bug: %q is valid JSON", in)
		}
	}
}

func TestCanonicalDepth(t *testing.T) {
	for _, open := range []string{"[", `{"a":`} {
		closer := "]"
		if open != "[" {
			closer = "}"
		}
		nest := func(n int) string {
			return strings.Repeat(open, n) + "1" + strings.Repeat(closer, n)
		}
		if _, err := canonicalize(nest(MaxDepth)); err != nil {
			t.Errorf("depth %d (%s) rejected: %v", MaxDepth, open, err)
		}
		if _, err := canonicalize(nest(MaxDepth + 1)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("depth %d (%s) error %v, want ErrNotJSON", MaxDepth+1, open, err)
		}
		if _, err := canonicalize(nest(100000)); !errors.Is(err, ErrNotJSON) {
			t.Errorf("depth 100000 (%s) error %v, want ErrNotJSON", open, err)
		}
		// With ignores the depth bookkeeping uses c.acts; it must not overflow.
		if _, err := canonicalize(nest(MaxDepth), "a.a.a", "*"); err != nil {
			t.Errorf("depth %d (%s) with ignores rejected: %v", MaxDepth, open, err)
		}
		if _, err := canonicalize(nest(MaxDepth+1), "a.*.a", "*.x"); !errors.Is(err, ErrNotJSON) {
			t.Errorf("depth %d (%s) with ignores error %v, want ErrNotJSON", MaxDepth+1, open, err)
		}
	}
}

func TestCanonicalIgnore(t *testing.T) {
	tests := []struct {
		in     string
		ignore []string
		want   string
	}{
		{`{"a":1,"b":2}`, []string{"a"}, `{"b":2}`},
		{`{"a":1,"b":2}`, []string{"b"}, `{"a":1}`},
		{`{"a":1,"b":2}`, []string{"a", "b"}, `{}`},
		{`{"a":1,"b":2}`, []string{"c"}, `{"a":1,"b":2}`},
		{`{"b":2,"a":1,"c":3}`, []string{"a"}, `{"b":2,"c":3}`},
		{`{"a":1,"a":2,"b":3}`, []string{"a"}, `{"b":3}`},
		{`{"metadata":{"client_request_id":"x","source":"web"},"amount":5}`, []string{"metadata.client_request_id"},
			`{"amount":5,"metadata":{"source":"web"}}`},
		{`{"client_request_id":"top","metadata":{"client_request_id":"x"}}`, []string{"metadata.client_request_id"},
			`{"client_request_id":"top","metadata":{}}`},
		{`{"metadata":"scalar"}`, []string{"metadata.client_request_id"}, `{"metadata":"scalar"}`},
		{`{"items":[{"sku":"a","timestamp":1},{"timestamp":2,"sku":"b"}]}`, []string{"items.*.timestamp"},
			`{"items":[{"sku":"a"},{"sku":"b"}]}`},
		{`{"items":{"x":{"timestamp":1,"k":1},"y":{"timestamp":2}}}`, []string{"items.*.timestamp"},
			`{"items":{"x":{"k":1},"y":{}}}`},
		{`{"items":[[{"timestamp":1}]]}`, []string{"items.*.timestamp"}, `{"items":[[{"timestamp":1}]]}`},
		{`{"items":[[{"timestamp":1}]]}`, []string{"items.*.*.timestamp"}, `{"items":[[{}]]}`},
		{`{"timestamp":1,"items":[]}`, []string{"items.*.timestamp"}, `{"items":[],"timestamp":1}`},
		{`{"a":1,"b":{"c":2}}`, []string{"*"}, `{}`},
		{`[{"a":1},2]`, []string{"*"}, `[{"a":1},2]`}, // array elements are never left out
		{`[{"a":1,"b":2}]`, []string{"*.a"}, `[{"b":2}]`},
		{`{"x":{"a":1,"b":2},"y":{"a":3}}`, []string{"*.a"}, `{"x":{"b":2},"y":{}}`},
		{`{"a":{"b":{"c":1,"d":2}}}`, []string{"a.b.c"}, `{"a":{"b":{"d":2}}}`},
		{`{"a":{"b":{"c":1,"d":2}}}`, []string{"a.b"}, `{"a":{}}`},
		{`{"a":{"b":{"c":1,"d":2}}}`, []string{"a.*.c", "a.b.d"}, `{"a":{"b":{}}}`},
		{`{"a":{"b":1}}`, []string{"a.b.c"}, `{"a":{"b":1}}`},
		{`{"a\u0062":1,"c":2}`, []string{"ab"}, `{"c":2}`}, // paths match unescaped keys
		{`"str"`, []string{"*"}, `"str"`},
		{`{"a":[{"b":1}],"":{"b":2}}`, []string{"*.b"}, `{"":{},"a":[{"b":1}]}`}, // "*" matches the key ""; an array element takes a segment of its own
		// Paths match case-sensitively; other spellings stay, in document
		// order within their fold group.
		{`{"ts":1,"TS":2}`, []string{"ts"}, `{"TS":2}`},
		{`{"Ts":1,"b":2}`, []string{"ts"}, `{"Ts":1,"b":2}`},
		{`{"a":1,"A":2,"a":3}`, []string{"A"}, `{"a":1,"a":3}`},
		// Every member of an ignored key is left out.
		{`{"a":{"x":1},"b":1,"a":{"y":2}}`, []string{"a"}, `{"b":1}`},
		{`{"a":1,"b":2,"a":3,"b":4}`, []string{"*"}, `{}`},
		{`{"a":{"t":1,"x":1},"a":{"y":2,"t":2}}`, []string{"a.t"}, `{"a":{"x":1},"a":{"y":2}}`},
		{`{"a":{"t":1},"A":{"t":2},"a":{"t":3,"t":4}}`, []string{"a.t"}, `{"a":{},"A":{"t":2},"a":{}}`},
		{`{"x":[{"t":1,"t":2}],"x":[{"t":3}]}`, []string{"*.*.t"}, `{"x":[{}],"x":[{}]}`},
		{`{"TS":2,"ts":1,"Ts":3}`, []string{"ts"}, `{"TS":2,"Ts":3}`},
		{`{"Ts":3,"ts":1,"TS":2}`, []string{"ts"}, `{"Ts":3,"TS":2}`},
		{`{"META":{"id":1,"ID":0},"meta":{"id":2,"Id":3}}`, []string{"meta.id"}, `{"META":{"id":1,"ID":0},"meta":{"Id":3}}`},
		{`{"meta":{"Id":3},"META":{"ID":0,"id":1}}`, []string{"meta.id"}, `{"meta":{"Id":3},"META":{"ID":0,"id":1}}`},
	}
	for _, tt := range tests {
		got, err := canonicalize(tt.in, tt.ignore...)
		if err != nil || got != tt.want {
			t.Errorf("canonicalize(%q, ignore %q) = %q, %v; want %q", tt.in, tt.ignore, got, err, tt.want)
		}
	}
	// Ignored values must still be valid JSON.
	if _, err := canonicalize(`{"a":[1,],"b":2}`, "a"); !errors.Is(err, ErrNotJSON) {
		t.Errorf("invalid ignored value accepted: %v", err)
	}
}

func TestCompileIgnore(t *testing.T) {
	if ig, err := CompileIgnore(); ig != nil || err != nil {
		t.Fatalf("no paths compile to %v, %v; want nil", ig, err)
	}
	if ig, err := CompileIgnore([]string{}...); ig != nil || err != nil {
		t.Fatalf("an empty list compiles to %v, %v; want nil", ig, err)
	}
	for _, bad := range []string{"", ".a", "a.", "a..b", "."} {
		if ig, err := CompileIgnore("ok", bad); ig != nil || err == nil {
			t.Errorf("CompileIgnore(%q) = %v, %v; want an error", bad, ig, err)
		}
	}
	ig, err := CompileIgnore("a.b", "a.*.c", "*")
	if err != nil {
		t.Fatal(err)
	}
	root := ig.root
	a := root.children["a"]
	if a == nil || a.terminal || a.children["b"] == nil || !a.children["b"].terminal {
		t.Fatalf("a.b not compiled: %+v", a)
	}
	if a.star == nil || a.star.children["c"] == nil || !a.star.children["c"].terminal || a.star.terminal {
		t.Fatalf("a.*.c not compiled: %+v", a.star)
	}
	if root.star == nil || !root.star.terminal || root.terminal {
		t.Fatalf("* not compiled: %+v", root.star)
	}
}

// TestCanonicalLargeObjects exercises the merge sort (objects above 16
// members) against a reference stable sort, with repeated keys.
func TestCanonicalLargeObjects(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{15, 16, 17, 33, 100, 1000} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("k%d", r.IntN(n)) // duplicates likely
		}
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:\"v%d\"", k, i+1)
		}
		b.WriteByte('}')
		// Every member stays; a repeated key's members in document order.
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(i, j int) bool { return keys[order[i]] < keys[order[j]] })
		var want strings.Builder
		want.WriteByte('{')
		for i, m := range order {
			if i > 0 {
				want.WriteByte(',')
			}
			fmt.Fprintf(&want, "%q:\"v%d\"", keys[m], m+1)
		}
		want.WriteByte('}')
		if got := mustCanon(t, b.String()); got != want.String() {
			t.Errorf("n=%d:\n got %s\nwant %s", n, got, want.String())
		}
	}
}

func TestCanonicalReusedState(t *testing.T) {
	// A Canon that failed half-way must not leak state into the next run,
	// and a failure hands back dst as it was.
	var c Canon
	buf, err := c.Append([]byte("prefix"), []byte(`{"b":{"d":1,"c":2},"a":[1,`), nil)
	if err == nil {
		t.Fatal("truncated input accepted")
	}
	if string(buf) != "prefix" {
		t.Fatalf("after failure: dst = %q, want %q", buf, "prefix")
	}
	out, err := c.Append(buf[:0], []byte(`{"y":1,"x":2}`), nil)
	if err != nil || string(out) != `{"x":2,"y":1}` {
		t.Fatalf("after failure: %q, %v", out, err)
	}
	// dst is extended, never rewritten, even when an object is sorted.
	out, err = c.Append([]byte(`{"z":`), []byte(`{"y":1,"x":2}`), nil)
	if err != nil || string(out) != `{"z":{"x":2,"y":1}` {
		t.Fatalf("with a prefix: %q, %v", out, err)
	}
}

func TestNeedsAttention(t *testing.T) {
	// Exhaustive over single special bytes in each lane of an otherwise
	// harmless word, and over every byte value in lane 0.
	base := []byte("abcdefgh")
	for lane := 0; lane < 8; lane++ {
		for v := 0; v < 256; v++ {
			w := append([]byte(nil), base...)
			w[lane] = byte(v)
			var x uint64
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			want := v == '"' || v == '\\' || v < 0x20
			if got := needsAttention(x); got != want {
				t.Fatalf("lane %d byte %#x: needsAttention = %v, want %v", lane, v, got, want)
			}
		}
	}
	// Neighbouring high bytes must neither hide nor fake a match.
	for v := 0; v < 256; v++ {
		for _, other := range []byte{0x80, 0xff, 0x21, 0x23, 0x5b, 0x5d, 0x7f} {
			w := [8]byte{other, byte(v), other, other, other, other, other, byte(v)}
			var x uint64
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			want := v == '"' || v == '\\' || v < 0x20
			if got := needsAttention(x); got != want {
				t.Fatalf("word %x: needsAttention = %v, want %v", w, got, want)
			}
		}
	}
}

// TestCanonicalIgnoreReference compares ignored paths with a reference
// implementation on random documents: a member is left out when some path
// matches its key path exactly, "*" matching any key or array element
// (array elements themselves are never left out).
func TestCanonicalIgnoreReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	keys := []string{"a", "b", "c"}
	var gen func(depth int) any
	gen = func(depth int) any {
		switch k := r.IntN(6); {
		case depth >= 4 || k == 0:
			return float64(r.IntN(3))
		case k == 1:
			return keys[r.IntN(len(keys))]
		case k == 2:
			arr := make([]any, r.IntN(3))
			for i := range arr {
				arr[i] = gen(depth + 1)
			}
			return arr
		default:
			obj := map[string]any{}
			for i := r.IntN(4); i > 0; i-- {
				obj[keys[r.IntN(len(keys))]] = gen(depth + 1)
			}
			return obj
		}
	}
	segs := append([]string{"*"}, keys...)
	matches := func(pattern, path []string) bool {
		if len(pattern) != len(path) {
			return false
		}
		for i := range pattern {
			if pattern[i] != "*" && pattern[i] != path[i] {
				return false
			}
		}
		return true
	}
	var prune func(v any, path []string, patterns [][]string) any
	prune = func(v any, path []string, patterns [][]string) any {
		switch x := v.(type) {
		case map[string]any:
			out := map[string]any{}
		members:
			for k, val := range x {
				p := append(append([]string(nil), path...), k)
				for _, pat := range patterns {
					if matches(pat, p) {
						continue members
					}
				}
				out[k] = prune(val, p, patterns)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, val := range x {
				// "\x00" matches only "*", never a key.
				out[i] = prune(val, append(append([]string(nil), path...), "\x00"), patterns)
			}
			return out
		}
		return v
	}
	for i := 0; i < 3000; i++ {
		doc := gen(0)
		var paths []string
		var patterns [][]string
		for n := r.IntN(3) + 1; n > 0; n-- {
			var pat []string
			for l := r.IntN(3) + 1; l > 0; l-- {
				pat = append(pat, segs[r.IntN(len(segs))])
			}
			patterns = append(patterns, pat)
			paths = append(paths, strings.Join(pat, "."))
		}
		src, _ := json.Marshal(doc)
		ref, _ := json.Marshal(prune(doc, nil, patterns))
		want := mustCanon(t, string(ref))
		if got := mustCanon(t, string(src), paths...); got != want {
			t.Fatalf("canonicalize(%s, ignore %q) = %s, want %s", src, paths, got, want)
		}
	}
}

// TestCanonicalRejectsBadUnicode: strings that decoders turn into U+FFFD
// are not canonicalised. Otherwise {"\xe6":0,"\x92":1} and its reordering
// would share a canonical form although encoding/json reads them as
// {"\ufffd":1} and {"\ufffd":0} (found by FuzzCanonicalJSON).
func TestCanonicalRejectsBadUnicode(t *testing.T) {
	for _, in := range []string{
		"{\"\xe6\":0,\"\x92\":1}", "{\"\x92\":1,\"\xe6\":0}",
		"\"\xff\"", "\"abc\xc3\"", "\"\xc3\"", "\"\xc3(\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
		"\"\xc0\xaf\"", "\"12345678\xff12345678\"", "[\"ok\",\"\xfe\"]",
		`"\ud800"`, `"\uDC00"`, `"\ud800x"`, `"\ud800\u0041"`, `"\ud800\ud800"`, `"\ude00\ud83d"`,
		`"\ud83d\ude00\ud83d"`, `"\ud800\ue000"`, `{"\ud800":0,"\udc00":1}`, `"\udbff"`,
	} {
		if out, err := canonicalize(in); !errors.Is(err, ErrNotJSON) {
			t.Errorf("canonicalize(%q) = %q, %v; want ErrNotJSON", in, out, err)
		}
	}
}

// foldTarget is what a handler might decode a body into. Go's decoders
// match object keys to its fields case-insensitively, and the last
// matching member wins.
type foldTarget struct {
	Amount int `json:"amount"`
	A      int `json:"a"`
	B      int `json:"b"`
	K      int `json:"k"`
	S      int `json:"s"`
	I      int `json:"i"`
	Nested struct {
		X int `json:"x"`
	} `json:"nested"`
	Items []struct {
		Qty int `json:"qty"`
	} `json:"items"`
}

// decodeBoth decodes body with encoding/json and with sonic.
func decodeBoth[T any](t *testing.T, body string) (std, snc T) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), &std); err != nil {
		t.Fatalf("encoding/json: %s: %v", body, err)
	}
	if err := sonic.Unmarshal([]byte(body), &snc); err != nil {
		t.Fatalf("sonic: %s: %v", body, err)
	}
	return std, snc
}

// TestFoldGroupsMatchDecoders: members whose keys fold to the same case
// keep their relative document order, so bodies that Go's decoders read
// differently never share a canonical form (nor a fingerprint), while
// reordering keys that cannot collide still does not matter.
func TestFoldGroupsMatchDecoders(t *testing.T) {
	const (
		same         = iota // same intent: equal canonical forms
		differ              // decoded differently (proved below): different canonical forms
		conservative        // same intent, yet different canonical forms: fold groups keep their order whatever the values
	)
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"case variants", `{"amount":1,"AMOUNT":1000}`, `{"AMOUNT":1000,"amount":1}`, differ},
		{"three variants", `{"amount":1,"Amount":2,"AMOUNT":3}`, `{"AMOUNT":3,"amount":1,"Amount":2}`, differ},
		{"kelvin sign", "{\"k\":1,\"\u212a\":2}", "{\"\u212a\":2,\"k\":1}", differ},      // encoding/json
		{"long s", "{\"s\":1,\"\u017f\":2}", "{\"\u017f\":2,\"s\":1}", differ},           // encoding/json
		{"dotted capital I", "{\"i\":1,\"\u0130\":2}", "{\"\u0130\":2,\"i\":1}", differ}, // sonic
		{"escaped key", `{"amount":1,"\u0041MOUNT":1000}`, `{"AMOUNT":1000,"amount":1}`, differ},
		{"escaped key, same order", `{"amount":1,"\u0041MOUNT":1000}`, `{"amount":1,"AMOUNT":1000}`, same},
		{"last duplicate moved", `{"a":1,"A":2,"a":3}`, `{"a":3,"A":2}`, differ},
		// Repeated keys keep every member (see TestRepeatedKeysMatchDecoders).
		{"duplicate dropped", `{"a":1,"A":2,"a":3}`, `{"A":2,"a":3}`, conservative},
		{"duplicate, other first", `{"a":1,"A":2,"a":3}`, `{"A":2,"a":1,"a":3}`, conservative},
		{"duplicate kept, other key moved", `{"a":1,"A":2,"b":0,"a":3}`, `{"b":0,"a":1,"A":2,"a":3}`, same},
		{"duplicate of the other spelling", `{"A":1,"a":2,"A":3}`, `{"a":2,"A":3}`, conservative},
		{"duplicate of the other spelling, moved", `{"A":1,"a":2,"A":3}`, `{"A":3,"a":2}`, differ},
		{"group around another key", `{"a":1,"B":2,"A":3}`, `{"B":2,"a":1,"A":3}`, same},
		{"group around another key, swapped", `{"a":1,"B":2,"A":3}`, `{"A":3,"B":2,"a":1}`, differ},
		{"nested", `{"nested":{"x":1,"X":2}}`, `{"nested":{"X":2,"x":1}}`, differ},
		{"in an array", `{"items":[{"qty":1,"QTY":5}]}`, `{"items":[{"QTY":5,"qty":1}]}`, differ},
		{"nested object keys", `{"nested":{"x":1},"NESTED":{"x":2}}`, `{"NESTED":{"x":2},"nested":{"x":1}}`, differ},
		{"no collision", `{"amount":1,"B":2,"currency":"x"}`, `{"currency":"x","B":2,"amount":1}`, same},
		{"no collision, upper case", `{"Amount":1,"B":2,"K":3}`, `{"K":3,"B":2,"Amount":1}`, same},
		{"no collision, non-ASCII", "{\"\u00e9\":1,\"b\":2,\"\u212b\":3}", "{\"\u212b\":3,\"b\":2,\"\u00e9\":1}", same},
		{"collision elsewhere", `{"a":1,"A":2,"b":3,"c":4}`, `{"c":4,"a":1,"b":3,"A":2}`, same},
		{"equal values", `{"a":1,"A":1}`, `{"A":1,"a":1}`, conservative},
		{"distinct struct fields", `{"amount":1,"B":2}`, `{"B":2,"amount":1}`, same},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdA, sonicA := decodeBoth[foldTarget](t, tt.a)
			stdB, sonicB := decodeBoth[foldTarget](t, tt.b)
			sameIntent := reflect.DeepEqual(stdA, stdB) && reflect.DeepEqual(sonicA, sonicB)
			// Decoding into a map keeps every spelling: its intent too.
			mapA, _ := decodeAny([]byte(tt.a))
			mapB, _ := decodeAny([]byte(tt.b))
			sameIntent = sameIntent && reflect.DeepEqual(mapA, mapB)
			if sameIntent != (tt.want != differ) {
				t.Fatalf("test bug: same intent = %v\n%s: %+v / %+v\n%s: %+v / %+v", sameIntent, tt.a, stdA, sonicA, tt.b, stdB, sonicB)
			}
			ca, cb := mustCanon(t, tt.a), mustCanon(t, tt.b)
			if (ca == cb) != (tt.want == same) {
				t.Errorf("equal canonical forms = %v, want %v\n%s -> %s\n%s -> %s", ca == cb, tt.want == same, tt.a, ca, tt.b, cb)
			}
		})
	}
}

// repeatTarget is what a handler might decode a body with repeated keys
// into. encoding/json and sonic decode each member in turn into the same
// field: a repeated object merges into a struct or a map, a repeated array
// merges into the elements of a slice of structs, and null leaves a
// number, string or struct as it was. Only a pointer, an interface or a
// scalar that is set again sees just the last member.
type repeatTarget struct {
	In struct {
		X int `json:"x"`
		Y int `json:"y"`
	} `json:"in"`
	N     int            `json:"n"`
	S     string         `json:"s"`
	P     *int           `json:"p"`
	M     map[string]int `json:"m"`
	Items []struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	} `json:"items"`
}

// TestRepeatedKeysMatchDecoders: a repeated key keeps every member, in
// document order. With the last member winning, the pairs marked differ
// shared a canonical form (and a fingerprint) although encoding/json and
// sonic decode them into different values, and a retry of the second
// replayed the first's response.
func TestRepeatedKeysMatchDecoders(t *testing.T) {
	const (
		same         = iota // same intent: equal canonical forms
		differ              // encoding/json and sonic both decode differently (proved below): different canonical forms
		conservative        // same intent, yet different canonical forms: repeated members are never dropped
	)
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{"objects merge", `{"in":{"x":1},"in":{"y":2}}`, `{"in":{"y":2}}`, differ},
		{"objects merge, overlapping", `{"in":{"x":1,"y":1},"in":{"y":2}}`, `{"in":{"y":2}}`, differ},
		{"maps merge", `{"m":{"a":1},"m":{"b":2}}`, `{"m":{"b":2}}`, differ},
		{"array elements merge", `{"items":[{"sku":"a"}],"items":[{"qty":2}]}`, `{"items":[{"qty":2}]}`, differ},
		{"null leaves a number", `{"n":5,"n":null}`, `{"n":null}`, differ},
		{"null leaves a string", `{"s":"x","s":null}`, `{"s":null}`, differ},
		{"null leaves a struct", `{"in":{"x":1},"in":null}`, `{"in":null}`, differ},
		{"among other keys", `{"n":1,"in":{"x":1},"s":"","in":{"y":2}}`, `{"s":"","in":{"y":2},"n":1}`, differ},
		{"nested", `{"items":[{"qty":1,"qty":null}]}`, `{"items":[{"qty":null}]}`, differ},
		{"order of repeats", `{"n":1,"n":2}`, `{"n":2,"n":1}`, differ},
		{"order of merged objects", `{"in":{"x":1},"in":{"x":2,"y":3}}`, `{"in":{"x":2,"y":3},"in":{"x":1}}`, differ},
		{"with a case variant", `{"in":{"x":1},"IN":{"y":2},"in":null}`, `{"IN":{"y":2},"in":null}`, differ},
		{"other keys move", `{"n":1,"in":{"x":1},"n":2}`, `{"in":{"x":1},"n":1,"n":2}`, same},
		{"whitespace and escapes", `{"n":1,"n":2}`, ` { "\u006e" : 1 , "n" : 2 } `, same},
		{"repeated scalar", `{"n":1,"n":2}`, `{"n":2}`, conservative},
		{"repeated object, same fields", `{"in":{"x":1},"in":{"x":2}}`, `{"in":{"x":2}}`, conservative},
		{"pointer set to null", `{"p":1,"p":null}`, `{"p":null}`, conservative},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdA, sonicA := decodeBoth[repeatTarget](t, tt.a)
			stdB, sonicB := decodeBoth[repeatTarget](t, tt.b)
			mapA, _ := decodeAny([]byte(tt.a))
			mapB, _ := decodeAny([]byte(tt.b))
			stdSame, sonicSame := reflect.DeepEqual(stdA, stdB), reflect.DeepEqual(sonicA, sonicB)
			var ok bool
			switch tt.want {
			case differ:
				ok = !stdSame && !sonicSame
			default:
				ok = stdSame && sonicSame && reflect.DeepEqual(mapA, mapB)
			}
			if !ok {
				t.Fatalf("test bug: encoding/json same = %v, sonic same = %v\n%s: %+v / %+v / %v\n%s: %+v / %+v / %v",
					stdSame, sonicSame, tt.a, stdA, sonicA, mapA, tt.b, stdB, sonicB, mapB)
			}
			ca, cb := mustCanon(t, tt.a), mustCanon(t, tt.b)
			if (ca == cb) != (tt.want == same) {
				t.Errorf("equal canonical forms = %v, want %v\n%s -> %s\n%s -> %s", ca == cb, tt.want == same, tt.a, ca, tt.b, cb)
			}
		})
	}

	// An ignored path leaves out every member it names, however often its
	// key repeats; the members around it stay, repeats included.
	ignored := []string{"s", "in.x"}
	base := mustCanon(t, `{"n":1,"in":{"y":2}}`, ignored...)
	for _, body := range []string{
		`{"n":1,"s":"a","in":{"y":2},"s":"b"}`,
		`{"s":null,"in":{"x":1,"y":2},"n":1,"s":{"x":1}}`,
		`{"n":1,"in":{"x":1,"y":2,"x":3}}`,
	} {
		if mustCanon(t, body, ignored...) != base {
			t.Errorf("%s: ignored members change the canonical form", body)
		}
	}
	if mustCanon(t, `{"n":1,"in":{"x":1},"in":{"y":2}}`, ignored...) == base {
		t.Error("a repeated key around an ignored member was dropped")
	}
}

func TestCanonicalFoldGroupsExact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"amount":1,"AMOUNT":1000}`, `{"amount":1,"AMOUNT":1e3}`},
		{`{"AMOUNT":1000,"amount":1}`, `{"AMOUNT":1e3,"amount":1}`},
		{`{"a":1,"B":2,"A":3}`, `{"a":1,"B":2,"A":3}`},
		{`{"B":2,"A":3,"a":1}`, `{"A":3,"B":2,"a":1}`},
		// Repeated keys are in the group: slots A, a, a; a,A,a in document order.
		{`{"a":1,"A":2,"a":3}`, `{"a":1,"A":2,"a":3}`},
		{`{"A":1,"A":2}`, `{"A":1,"A":2}`},
		{`{"A":3,"A":1,"b":2}`, `{"A":3,"A":1,"b":2}`},
		{`{"b":2,"A":3,"A":1}`, `{"A":3,"A":1,"b":2}`}, // upper case, repeated, no collision: sorted
		{`{"B":0,"a":3,"A":2,"a":1}`, `{"a":3,"B":0,"A":2,"a":1}`},
		{"{\"\u00e9\":1,\"\u00c9\":2,\"\u00e9\":3}", "{\"\u00e9\":1,\"\u00c9\":2,\"\u00e9\":3}"},
		{"{\"z\":0,\"\u00e9\":1,\"\u00c9\":2,\"\u00e9\":3}", "{\"z\":0,\"\u00e9\":1,\"\u00c9\":2,\"\u00e9\":3}"},
		{`{"b":1,"a":2,"C":3}`, `{"C":3,"a":2,"b":1}`}, // upper case, no collision: sorted
		{`{"ab":1,"aB":2,"Ab":3,"AB":4}`, `{"ab":1,"aB":2,"Ab":3,"AB":4}`},
		{`{"x":{"Q":1,"q":2},"X":[{"z":1,"Z":0}]}`, `{"x":{"Q":1,"q":2},"X":[{"z":1,"Z":0}]}`},
		{"{\"\u212a\":1,\"k\":2,\"K\":3}", "{\"\u212a\":1,\"k\":2,\"K\":3}"}, // slots K, k, \u212a
		{"{\"k\":1,\"\u212a\":2,\"K\":3}", "{\"k\":1,\"\u212a\":2,\"K\":3}"},
		{"{\"\u0131\":1,\"\u0130\":2,\"I\":3,\"i\":4}", "{\"\u0131\":1,\"\u0130\":2,\"I\":3,\"i\":4}"},
		{`{"\n":1,"\N":2}`, ``}, // invalid escape: not JSON
		// Two groups; sorted slots A\n, A\u001f, a\n, a\u001f.
		{"{\"a\\n\":1,\"A\\n\":2,\"a\\u001F\":3,\"A\\u001f\":4}", "{\"a\\n\":1,\"a\\u001f\":3,\"A\\n\":2,\"A\\u001f\":4}"},
		{"{\"A\\n\":2,\"a\\u001F\":3,\"A\\u001f\":4,\"a\\n\":1}", "{\"A\\n\":2,\"a\\u001f\":3,\"a\\n\":1,\"A\\u001f\":4}"},
		{"{\"A\\n\":2,\"a\\n\":1}", "{\"A\\n\":2,\"a\\n\":1}"},
		{"{\"a\\n\":1,\"A\\n\":2}", "{\"a\\n\":1,\"A\\n\":2}"},
		// Equal length and folded first eight bytes, then equal or not.
		{`{"clientRequestIdX":1,"CLIENTREQUESTIDx":2}`, `{"clientRequestIdX":1,"CLIENTREQUESTIDx":2}`},
		{`{"customerNm":1,"CUSTOMERID":2}`, `{"CUSTOMERID":2,"customerNm":1}`},
		{`{"customer":1,"CUSTOMER":2}`, `{"customer":1,"CUSTOMER":2}`},
		{`{"a\"":1,"A\"":2}`, `{"a\"":1,"A\"":2}`},
		{`{"A\"":2,"a\"":1}`, `{"A\"":2,"a\"":1}`},
	}
	for _, tt := range tests {
		got, err := canonicalize(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("canonicalize(%q) = %q, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("canonicalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if again := mustCanon(t, got); again != got {
			t.Errorf("not idempotent: %q -> %q -> %q", tt.in, got, again)
		}
	}
}

// refFoldRune is the fold relation built independently of foldRune: the
// smallest rune reachable from r through unicode.SimpleFold, ToLower,
// ToUpper and ToTitle.
func refFoldRune(r rune) rune {
	var seen [32]rune
	n := 0
	add := func(x rune) {
		for _, s := range seen[:n] {
			if s == x {
				return
			}
		}
		seen[n] = x
		n++
	}
	add(r)
	for i := 0; i < n; i++ {
		x := seen[i]
		add(unicode.SimpleFold(x))
		add(unicode.ToLower(x))
		add(unicode.ToUpper(x))
		add(unicode.ToTitle(x))
	}
	m := r
	for _, s := range seen[:n] {
		m = min(m, s)
	}
	return m
}

// refFoldEqual reports whether two keys fold together for some Go decoder.
func refFoldEqual(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if refFoldRune(ra[i]) != refFoldRune(rb[i]) {
			return false
		}
	}
	return true
}

// TestFoldRuneCoversDecoders: foldRune groups every rune with each rune
// that encoding/json (SimpleFold) or sonic (ToLower) matches it with, and
// with nothing else than their closure.
func TestFoldRuneCoversDecoders(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if 0xD800 <= r && r < 0xE000 {
			continue
		}
		if got, want := foldRune(r), refFoldRune(r); got != want {
			t.Fatalf("foldRune(%U) = %U, want %U", r, got, want)
		}
	}
	for _, tt := range [][2]rune{{'k', 0x212A}, {'K', 0x212A}, {'s', 0x17F}, {'i', 0x130}, {'I', 0x131}, {'a', 'A'}} {
		if foldRune(tt[0]) != foldRune(tt[1]) {
			t.Errorf("%q and %q do not fold together", tt[0], tt[1])
		}
	}
}

func TestFoldWords(t *testing.T) {
	base := []byte("abcdefgh")
	for lane := 0; lane < 8; lane++ {
		for v := 0; v < 256; v++ {
			for _, other := range []byte{'a', 'z', '@', '[', 0x80, 0xc3, 0xff, 0} {
				w := append([]byte(nil), base...)
				for i := range w {
					if i != lane && i%3 == 0 {
						w[i] = other
					}
				}
				w[lane] = byte(v)
				x := binary.LittleEndian.Uint64(w)
				want := false
				for _, b := range w {
					want = want || b >= 0x80 || ('A' <= b && b <= 'Z')
				}
				if got := wordMayFold(x); got != want {
					t.Fatalf("wordMayFold(%q) = %v, want %v", w, got, want)
				}
				up := make([]byte, 8)
				for i, b := range w {
					up[i] = b
					if 'a' <= b && b <= 'z' {
						up[i] = b - 'a' + 'A'
					}
				}
				if got := upperWord(x); got != binary.LittleEndian.Uint64(up) {
					t.Fatalf("upperWord(%q) = %q, want %q", w, binary.LittleEndian.AppendUint64(nil, got), up)
				}
			}
		}
	}
	for _, tt := range []struct {
		key  string
		want bool
	}{{`"abc"`, false}, {`"abcdefghijklmnop"`, false}, {`"abcdefghijklmnoP"`, true}, {`"abcdefgh_` + "\u00e9" + `"`, true}, {`"a\n\u001f"`, false},
		{`"Abcdefg"`, true}, {`"abcdefgH"`, true}, {`"abcdefgh"`, false}, {`"abcdefghijklmnopqrstuvwxyZ"`, true}, {`"abcdefghijklmnopqrstuvwxyz"`, false}} {
		if got := keyMayFold([]byte(tt.key), keyPrefix([]byte(tt.key))); got != tt.want {
			t.Errorf("keyMayFold(%s) = %v, want %v", tt.key, got, tt.want)
		}
	}
	// Every length, and every position of one upper-case or non-ASCII byte.
	for n := 2; n <= 40; n++ {
		key := []byte(`"` + strings.Repeat("z", n-2) + `"`)
		if keyMayFold(key, keyPrefix(key)) {
			t.Fatalf("keyMayFold(%s) = true", key)
		}
		for i := 1; i < n-1; i++ {
			for _, b := range []byte{'A', 'Z', 0x80, 0xff} {
				k := append([]byte(nil), key...)
				k[i] = b
				if !keyMayFold(k, keyPrefix(k)) {
					t.Fatalf("keyMayFold(%q) = false", k)
				}
			}
		}
	}
}

// TestCanonicalFoldLargeObjects compares objects of up to 200 members,
// many of them case variants and repeats, with a reference: every member
// stays, members are sorted by key (stably), and each fold group, repeated
// keys included, then fills its sorted positions in document order.
func TestCanonicalFoldLargeObjects(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "A", "b", "B", "ab", "aB", "Ab", "AB", "k", "K", "\u212a", "s", "S", "\u017f", "x", "y", "long_key_name", "LONG_key_name", "\u00e9", "\u00c9"}
	for _, n := range []int{2, 3, 15, 16, 17, 33, 100, 200} {
		for iter := 0; iter < 20; iter++ {
			type kv struct {
				key      string
				val, pos int
			}
			var doc []kv
			var b strings.Builder
			b.WriteByte('{')
			for i := 0; i < n; i++ {
				k := alphabet[r.IntN(len(alphabet))]
				if r.IntN(3) == 0 {
					k += fmt.Sprint(r.IntN(n)) // plenty of keys without a twin
				}
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%q:\"v%d\"", k, i+1)
				doc = append(doc, kv{k, i + 1, i})
			}
			b.WriteByte('}')
			uniq := append([]kv(nil), doc...)
			sort.SliceStable(uniq, func(i, j int) bool { return uniq[i].key < uniq[j].key })
			out := make([]kv, len(uniq))
			done := make([]bool, len(uniq))
			for i := range uniq {
				if done[i] {
					continue
				}
				var slots []int
				for j := i; j < len(uniq); j++ {
					if refFoldEqual(uniq[i].key, uniq[j].key) {
						slots = append(slots, j)
						done[j] = true
					}
				}
				grp := make([]kv, len(slots))
				for k, s := range slots {
					grp[k] = uniq[s]
				}
				sort.Slice(grp, func(i, j int) bool { return grp[i].pos < grp[j].pos })
				for k, s := range slots {
					out[s] = grp[k]
				}
			}
			var want strings.Builder
			want.WriteByte('{')
			for i, m := range out {
				if i > 0 {
					want.WriteByte(',')
				}
				fmt.Fprintf(&want, "%q:\"v%d\"", m.key, m.val)
			}
			want.WriteByte('}')
			if got := mustCanon(t, b.String()); got != want.String() {
				t.Fatalf("n=%d:\n  in %s\n got %s\nwant %s", n, b.String(), got, want.String())
			}
		}
	}
}

// TestCanonicalAllocs: once its buffers have grown, the canonicaliser
// allocates nothing, whether keys are lower-case, mixed-case, or fold
// together.
func TestCanonicalAllocs(t *testing.T) {
	for _, body := range []string{
		`{"currency":"EUR","amount":100,"items":[{"sku":"a","qty":1}],"meta":{"b":1,"a":2}}`,
		`{"currencyCode":"EUR","totalAmount":100,"lineItems":[{"skuId":"a","qty":1}],"metaData":{"clientRequestId":"x","Ts":1}}`,
		`{"amount":1,"AMOUNT":1000,"items":[{"qty":1,"QTY":5,"Qty":2}],"a":1,"A":2,"a":3}`,
		`{"b":{"y":1,"x":2},"a":1,"b":{"x":3},"a":null,"c":[{"q":1,"p":2,"q":3}]}`,
		"{\"k\":1,\"\u212a\":2,\"\u00e9t\u00e9\":3,\"\u00c9T\u00c9\":4}",
	} {
		var c Canon
		var out []byte
		src := []byte(body)
		run := func() {
			var err error
			if out, err = c.Append(out[:0], src, nil); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%s: %v allocations per run", body, n)
		}
	}
}
