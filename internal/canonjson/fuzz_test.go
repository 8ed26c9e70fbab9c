package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/internal/canonjson/refcanon"
)

// jsonDepth returns the maximum nesting of arrays and objects in a valid
// JSON document.
func jsonDepth(b []byte) int {
	depth, maxDepth, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return maxDepth
}

// surrogateEscape finds \u escapes of UTF-16 surrogates (paired or not).
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F]`)

// decodeAny decodes with encoding/json into plain Go values.
func decodeAny(b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}

// fuzzStruct has fields named like the seeds' keys. They hold any, into
// which a later duplicate replaces an earlier one.
type fuzzStruct struct {
	A, B, K, S, I, X, Z, Amount any
	Q                           any `json:"q"`
}

// fuzzMerge has the same fields, of types into which a repeated member
// does not simply replace the earlier ones: objects merge into a struct
// or a map, arrays into the elements of a slice of structs, and null
// leaves a number, string, bool or struct as it was.
type fuzzMerge struct {
	A      struct{ A, B, X, Z any }
	B      map[string]any
	K      []struct{ A, X any }
	S      string
	I      float64
	X      bool
	Z      struct{ Q map[string]int }
	Amount *float64
	Q      []any `json:"q"`
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"b":1,"a":[true,false,null,"x"]}`, `{"a":1,"a":2}`, `"\u0041\ud83d\ude00\ud800\/"`,
		`[1,1.0,-0,10e-1,0.1e1,1e2,123.456e-7,-0.0]`, ` { "x" : { "y" : [ ] } } `, `{"a":1}x`, `[1,]`,
		"\"\x01\"", `1e999999999`, `100000000000e999999999`, `0.00000000001e-999999999`,
		`{"z":{"b":1,"a":2},"y":[{"d":4,"c":3}],"\u0061":0}`, `[[[[[[[[[[]]]]]]]]]]`, "\"\xff\xfe\"",
		`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k0":17}`,
		// Keys that fold together keep their document order.
		`{"amount":1,"AMOUNT":1000}`, `{"a":1,"A":2,"a":3}`, `{"a":1,"B":2,"A":3}`, "{\"k\":1,\"\u212a\":2,\"K\":3}",
		"{\"s\":1,\"\u017f\":2}", "{\"i\":1,\"\u0130\":2,\"\u0131\":3}", `{"x":{"Q":1,"q":2},"X":[{"z":1,"Z":0}]}`,
		`{"a\n":1,"A\n":2,"a\u001F":3,"A\u001f":4}`, `{"\u0041":1,"a":2,"\u0061":3}`,
		`{"A":0,"b":1,"c":2,"d":3,"e":4,"f":5,"g":6,"h":7,"i":8,"j":9,"k":10,"l":11,"m":12,"n":13,"o":14,"p":15,"q":16,"a":17}`,
		// Repeated keys keep every member: decoders merge them.
		`{"a":{"x":1},"a":{"z":2}}`, `{"b":{"x":1},"z":0,"b":{"y":2}}`, `{"k":[{"a":1}],"k":[{"x":2},{"a":3}]}`,
		`{"s":"v","s":null}`, `{"i":5,"i":null}`, `{"x":true,"X":null}`, `{"a":{"x":1},"A":{"z":2},"a":null}`,
		`{"z":{"q":{"a":1}},"Z":{"Q":{"b":2}},"z":{"q":null}}`, `{"amount":1,"amount":null}`, `{"q":[1,{"a":1}],"q":[{"b":2}]}`,
		`{"b":1,"a":{"x":1},"a":{"x":2},"b":{"b":null}}`, `{"a":{"a":1,"a":{"b":2},"a":[3]},"a":{"b":4}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var c Canon
		out, err := c.Append(nil, in, nil)
		// Byte for byte what the materialising canonicaliser of 5eaa2c1
		// wrote (the fingerprint hashes these bytes).
		var ref refcanon.Canon
		if want, werr := ref.Append(nil, in, nil); (err == nil) != (werr == nil) || !bytes.Equal(out, want) {
			t.Fatalf("Append(%q) = %q, %v; reference %q, %v", in, out, err, want, werr)
		}
		valid := json.Valid(in)
		if err != nil {
			if !errors.Is(err, ErrNotJSON) {
				t.Fatalf("Append(%q) error %v, want ErrNotJSON", in, err)
			}
			if len(out) != 0 {
				t.Fatalf("Append(%q) failed but wrote %q", in, out)
			}
			// Valid JSON is only refused for depth, absurd numbers, and
			// strings that decoders would turn into U+FFFD.
			if valid && jsonDepth(in) <= MaxDepth && !bytes.ContainsAny(in, "eE") &&
				utf8.Valid(in) && !surrogateEscape.Match(in) {
				t.Fatalf("run(%q) rejected valid JSON", in)
			}
			return
		}
		if !valid {
			t.Fatalf("run(%q) accepted invalid JSON: %q", in, out)
		}
		if !json.Valid(out) {
			t.Fatalf("run(%q) = %q: not valid JSON", in, out)
		}
		// Idempotent.
		if again, err := c.Append(nil, out, nil); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("run(%q) = %q, but run of that = %q, %v", in, out, again, err)
		}
		// Same meaning as the input, per encoding/json.
		want, err1 := decodeAny(in)
		got, err2 := decodeAny(out)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("encoding/json decodes %q: %v, its canonical form %q: %v", in, err1, out, err2)
		}
		if err1 == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("run(%q) = %q changes the value: %#v vs %#v", in, out, want, got)
		}
		// Same meaning for a struct, whose fields match keys
		// case-insensitively, the last match winning.
		var ws, gs fuzzStruct
		err1, err2 = json.Unmarshal(in, &ws), json.Unmarshal(out, &gs)
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(ws, gs) {
			t.Fatalf("run(%q) = %q decodes differently into a struct: %+v, %v vs %+v, %v", in, out, ws, err1, gs, err2)
		}
		// And for fields into which repeated members merge, with
		// encoding/json and with sonic.
		var wm, gm fuzzMerge
		err1, err2 = json.Unmarshal(in, &wm), json.Unmarshal(out, &gm)
		if (err1 == nil) != (err2 == nil) || !reflect.DeepEqual(wm, gm) {
			t.Fatalf("run(%q) = %q decodes differently into a merging struct: %+v, %v vs %+v, %v", in, out, wm, err1, gm, err2)
		}
		var sm, tm fuzzMerge
		err1, err2 = sonic.Unmarshal(in, &sm), sonic.Unmarshal(out, &tm)
		if (err1 == nil) != (err2 == nil) || (err1 == nil && !reflect.DeepEqual(sm, tm)) {
			t.Fatalf("run(%q) = %q decodes differently with sonic: %+v, %v vs %+v, %v", in, out, sm, err1, tm, err2)
		}
		// No insignificant whitespace survives.
		inStr := false
		for i := 0; i < len(out); i++ {
			switch ch := out[i]; {
			case inStr && ch == '\\':
				i++
			case ch == '"':
				inStr = !inStr
			case !inStr && (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'):
				t.Fatalf("run(%q) = %q keeps whitespace", in, out)
			}
		}
	})
}

// quoteAllEscaped writes s as a JSON string with every rune \u-escaped.
func quoteAllEscaped(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&b, `\u%04X`, u)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func FuzzCanonicalReorder(f *testing.F) {
	f.Add("amount", "currency", "note", "EUR", 100.5, int64(7), "x")
	f.Add("a", "b", "c", "", 0.0, int64(-1), "")
	f.Add("\u00e9", "\U0001F600", "<&>", "\x00\"\\", 1e300, int64(math.MaxInt64), "\xff")
	f.Add("", " ", "\t", "\u2028", -0.000001, int64(0), "z")
	f.Add("amount", "AMOUNT", "note", "EUR", 100.5, int64(7), "x")
	f.Add("k", "\u212a", "K", "", 1.0, int64(2), "y")
	f.Add("s", "n", "\u017f", "", 1.0, int64(2), "y")
	f.Add("i", "\u0130", "\u0131", "", 1.0, int64(2), "y")
	f.Add("amount", "amount", "note", "EUR", 100.5, int64(7), "x")
	f.Add("a", "b", "a", "", 0.0, int64(-1), "")
	f.Add("k", "k", "k", "v", 1.0, int64(2), "w")
	f.Add("k", "K", "k", "v", 1.0, int64(2), "w")
	f.Fuzz(func(t *testing.T, k1, k2, k3, s string, num float64, n int64, other string) {
		if math.IsNaN(num) || math.IsInf(num, 0) {
			return
		}
		s = strings.ToValidUTF8(s, "?")
		keys := []string{k1, k2, k3}
		encKeys := make([]string, 3)
		for i, k := range keys {
			keys[i] = strings.ToValidUTF8(k, "?")
			b, _ := json.Marshal(keys[i])
			encKeys[i] = string(b)
		}
		// Keys that fold together, or repeat (refFoldEqual holds for equal
		// keys): the reversed order below is another request for Go's
		// decoders, as the three values differ in type.
		folded := refFoldEqual(keys[0], keys[1]) || refFoldEqual(keys[1], keys[2]) || refFoldEqual(keys[0], keys[2])
		sv, _ := json.Marshal(s)
		// Order A: as encoding/json writes it.
		a := fmt.Sprintf(`{%s:%s,%s:%s,%s:{"n":%d,"arr":[%s,%d]}}`,
			encKeys[0], sv, encKeys[1], strconv.FormatFloat(num, 'g', -1, 64),
			encKeys[2], n, sv, n)
		// Order B: reversed members, every string \u-escaped, numbers
		// written another way, whitespace everywhere.
		nb := strconv.FormatInt(n, 10) + ".000e0"
		b := fmt.Sprintf("\n{ %s :\t{ \"\\u0061rr\" : [ %s , %s ] , \"n\" : %s } ,\r\n %s : %s , %s : %s }\n",
			quoteAllEscaped(keys[2]), quoteAllEscaped(s), nb, nb,
			quoteAllEscaped(keys[1]), strconv.FormatFloat(num, 'e', -1, 64),
			quoteAllEscaped(keys[0]), quoteAllEscaped(s))
		if !json.Valid([]byte(a)) || !json.Valid([]byte(b)) {
			t.Fatalf("test bug: invalid JSON\n%s\n%s", a, b)
		}
		// Both canonicalise (a body that did not would be hashed raw, and
		// its reordering would be another request).
		ca, cb := mustCanon(t, a), mustCanon(t, b)
		if folded && ca == cb {
			t.Fatalf("reordered keys that fold together keep the canonical form:\n%s\n%s", a, b)
		}
		if !folded && ca != cb {
			t.Fatalf("reordered JSON canonical forms differ:\n%s\n%s\ncanonical:\n%s\n%s", a, b, ca, cb)
		}
		// Any value change changes the fingerprint.
		other = strings.ToValidUTF8(other, "?")
		if other != s {
			ov, _ := json.Marshal(other)
			changed := fmt.Sprintf(`{%s:%s,%s:%s,%s:{"n":%d,"arr":[%s,%d]}}`,
				encKeys[0], ov, encKeys[1], strconv.FormatFloat(num, 'g', -1, 64),
				encKeys[2], n, sv, n)
			if mustCanon(t, changed) == ca {
				t.Fatalf("changing %q to %q keeps the canonical form:\n%s\n%s", s, other, a, changed)
			}
		}
		bumped := fmt.Sprintf(`{%s:%s,%s:%s,%s:{"n":%d,"arr":[%s,%d]}}`,
			encKeys[0], sv, encKeys[1], strconv.FormatFloat(num, 'g', -1, 64),
			encKeys[2], n, sv, n^1)
		if mustCanon(t, bumped) == ca {
			t.Fatalf("changing %d to %d keeps the canonical form", n, n^1)
		}
	})
}
