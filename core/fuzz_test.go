package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime/multipart"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bytedance/sonic"
)

func FuzzParseKeyValue(f *testing.F) {
	for _, s := range []string{
		"", " ", "abc", "  abc\t", `"abc"`, `"a\"b"`, `"a\\b"`, `"a\nb"`, `"abc`, `"abc"x`, `"abc" , "d"`,
		"a,b", `""`, `"\`, `"\\`, "\"caf\u00e9\"", "0f8fad5b-d9cb-469f-a165-70867728950e", "\"\x7f\"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		key, err := ParseKeyValue(in)
		if err != nil {
			if key != "" {
				t.Fatalf("ParseKeyValue(%q) = %q with error %v", in, key, err)
			}
			if !errors.Is(err, ErrMalformedKey) && !errors.Is(err, ErrSeveralKeys) {
				t.Fatalf("ParseKeyValue(%q) error %v is neither malformed nor several", in, err)
			}
			return
		}
		if key == "" {
			t.Fatalf("ParseKeyValue(%q) returned an empty key", in)
		}
		if len(key) > len(in) {
			t.Fatalf("ParseKeyValue(%q) = %q is longer than its input", in, key)
		}
		for i := 0; i < len(key); i++ {
			if strings.IndexByte(in, key[i]) < 0 {
				t.Fatalf("ParseKeyValue(%q) = %q invents byte %#x", in, key, key[i])
			}
		}
		trimmed := strings.Trim(in, " \t")
		if trimmed[0] != '"' {
			// A bare value is returned as given, minus surrounding blanks.
			if key != trimmed || strings.Contains(key, ",") {
				t.Fatalf("ParseKeyValue(%q) = %q, want %q", in, key, trimmed)
			}
			return
		}
		// A quoted value re-quotes to exactly its input, and holds only
		// printable ASCII.
		requoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(key) + `"`
		if requoted != trimmed {
			t.Fatalf("ParseKeyValue(%q) = %q, which re-quotes to %q", in, key, requoted)
		}
		for i := 0; i < len(key); i++ {
			if key[i] < 0x20 || key[i] > 0x7e {
				t.Fatalf("ParseKeyValue(%q) = %q has byte %#x", in, key, key[i])
			}
		}
		// Bare and quoted forms name the same key when the bare form can
		// express it.
		if !strings.ContainsAny(key, ",\"\\") && key[0] != ' ' && key[len(key)-1] != ' ' {
			if bare, err := ParseKeyValue(key); err != nil || bare != key {
				t.Fatalf("bare %q = %q, %v; quoted gave %q", key, bare, err, key)
			}
		}
	})
}

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
		c := canon{}
		err := c.run(in)
		valid := json.Valid(in)
		if err != nil {
			if !errors.Is(err, errNotJSON) {
				t.Fatalf("run(%q) error %v, want errNotJSON", in, err)
			}
			// Valid JSON is only refused for depth, absurd numbers, and
			// strings that decoders would turn into U+FFFD.
			if valid && jsonDepth(in) <= maxJSONDepth && !bytes.ContainsAny(in, "eE") &&
				utf8.Valid(in) && !surrogateEscape.Match(in) {
				t.Fatalf("run(%q) rejected valid JSON", in)
			}
			return
		}
		if !valid {
			t.Fatalf("run(%q) accepted invalid JSON: %q", in, c.out)
		}
		out := append([]byte(nil), c.out...)
		if !json.Valid(out) {
			t.Fatalf("run(%q) = %q: not valid JSON", in, out)
		}
		// Idempotent.
		c2 := canon{}
		if err := c2.run(out); err != nil || !bytes.Equal(c2.out, out) {
			t.Fatalf("run(%q) = %q, but run of that = %q, %v", in, out, c2.out, err)
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
		h := NewCanonicalHasher()
		fa := fp(t, h, post(jsonCT, a))
		fb := fp(t, h, post(jsonCT, b))
		if folded && fa == fb {
			t.Fatalf("reordered keys that fold together keep the fingerprint:\n%s\n%s", a, b)
		}
		if !folded && fa != fb {
			ca, _ := canonicalize(a)
			cb, _ := canonicalize(b)
			t.Fatalf("reordered JSON fingerprints differ:\n%s\n%s\ncanonical:\n%s\n%s", a, b, ca, cb)
		}
		// Any value change changes the fingerprint.
		other = strings.ToValidUTF8(other, "?")
		if other != s {
			ov, _ := json.Marshal(other)
			changed := fmt.Sprintf(`{%s:%s,%s:%s,%s:{"n":%d,"arr":[%s,%d]}}`,
				encKeys[0], ov, encKeys[1], strconv.FormatFloat(num, 'g', -1, 64),
				encKeys[2], n, sv, n)
			if fp(t, h, post(jsonCT, changed)) == fa {
				t.Fatalf("changing %q to %q keeps the fingerprint:\n%s\n%s", s, other, a, changed)
			}
		}
		bumped := fmt.Sprintf(`{%s:%s,%s:%s,%s:{"n":%d,"arr":[%s,%d]}}`,
			encKeys[0], sv, encKeys[1], strconv.FormatFloat(num, 'g', -1, 64),
			encKeys[2], n, sv, n^1)
		if fp(t, h, post(jsonCT, bumped)) == fa {
			t.Fatalf("changing %d to %d keeps the fingerprint", n, n^1)
		}
	})
}

const fuzzBoundary = "XyZb0undary"

// multipartScan mirrors what a hasher with the given limits does with a
// body: over when the parts read before any error exceed a limit, else
// valid when every part reads to EOF.
func multipartScan(body []byte, maxParts, maxHeaderBytes int) (valid, over bool) {
	r := multipart.NewReader(bytes.NewReader(body), fuzzBoundary)
	parts, hdr := 0, 0
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return true, false
		}
		if err != nil {
			return false, false
		}
		parts++
		hdr += 100
		for name, vals := range p.Header {
			for _, v := range vals {
				hdr += 100 + len(name) + len(v) + 4
			}
		}
		if parts > maxParts || hdr > maxHeaderBytes {
			return false, true
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			return false, false
		}
	}
}

func FuzzMultipart(f *testing.F) {
	seed := func(parts ...mpPart) []byte {
		_, body := multipartBody(f, fuzzBoundary, parts...)
		return body
	}
	f.Add(seed(mpPart{name: "a", content: "1"}, mpPart{name: "f", filename: "x.txt", ctype: "text/plain", content: "hello"}))
	f.Add(seed())
	f.Add(seed(mpPart{name: "", content: ""}, mpPart{name: "a", filename: "../../etc/passwd", content: "\r\n--" + "X"}))
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"))
	f.Add([]byte("preamble\r\n--" + fuzzBoundary + "--\r\nepilogue"))
	f.Add([]byte("not multipart at all"))
	// Over the small hasher's limits: four parts; long headers; four parts
	// of which the last is cut short; a bad part before the limit.
	four := seed(mpPart{name: "a"}, mpPart{name: "b"}, mpPart{name: "c"}, mpPart{name: "d"})
	f.Add(four)
	f.Add(seed(mpPart{name: "a", filename: strings.Repeat("x", 1000), ctype: "text/plain", content: "1"}))
	f.Add(four[:len(four)-len(fuzzBoundary)-8])
	f.Add(append(seed(mpPart{name: "a"})[:20], four...))
	// Over the default limit of 1,000 parts.
	many := make([]mpPart, DefaultMaxParts+1)
	for i := range many {
		many[i] = mpPart{name: "f", content: "v"}
	}
	f.Add(seed(many...))
	ct := "multipart/form-data; boundary=" + fuzzBoundary
	h := NewCanonicalHasher()
	nf := NewCanonicalHasher(WithoutFiles())
	const smallParts, smallHeader = 3, 1000
	small := NewCanonicalHasher(WithMultipartLimits(smallParts, smallHeader))
	f.Fuzz(func(t *testing.T, body []byte) {
		in := FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: body}
		raw := fp(t, h, FingerprintInput{Method: "POST", Path: "/upload", ContentType: "application/octet-stream", Body: body})
		check := func(h *CanonicalHasher, maxParts, maxHeader int) Fingerprint {
			a, err := h.Fingerprint(&in)
			valid, over := multipartScan(body, maxParts, maxHeader)
			if over {
				if !errors.Is(err, ErrMultipartLimit) {
					t.Fatalf("over the limits (%d parts, %d header bytes) but Fingerprint = %s, %v for %q", maxParts, maxHeader, a, err, body)
				}
				return a
			}
			if err != nil {
				t.Fatalf("Fingerprint(%q): %v", body, err)
			}
			if b, _ := h.Fingerprint(&in); a != b {
				t.Fatal("multipart fingerprint not deterministic")
			}
			if len(body) > 0 && valid == (a == raw) {
				t.Fatalf("valid=%v but hashed raw=%v for %q", valid, a == raw, body)
			}
			return a
		}
		a := check(h, DefaultMaxParts, DefaultMaxPartHeaderBytes)
		check(nf, DefaultMaxParts, DefaultMaxPartHeaderBytes)
		if s := check(small, smallParts, smallHeader); s != (Fingerprint{}) && s != a {
			t.Fatalf("limits change the fingerprint of a body within them: %q", body)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleResponses()[:5] {
		b, _ := BinarySerializer{}.Encode(nil, &r)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 0xc8, 0x01, 0x01, 0x01, 'A', 0x00, 0x00})
	f.Add([]byte{2, 0xc8, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}
