package core

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"mime/multipart"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

const jsonCT = "application/json"

func fp(t testing.TB, h PayloadHasher, in FingerprintInput) Fingerprint {
	t.Helper()
	f, err := h.Fingerprint(&in)
	if err != nil {
		t.Fatalf("Fingerprint(%+v): %v", in, err)
	}
	return f
}

func post(ct, body string) FingerprintInput {
	return FingerprintInput{Method: "POST", Path: "/payments", ContentType: ct, Body: []byte(body)}
}

func TestFingerprintJSONCanonical(t *testing.T) {
	h := MustCanonicalHasher()
	base := fp(t, h, post(jsonCT, `{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]}}`))
	same := []string{
		`{"currency":"EUR","amount":100,"meta":{"b":[1,2],"a":1}}`,
		"{\n  \"amount\": 100,\n  \"currency\": \"EUR\",\n  \"meta\": { \"a\": 1, \"b\": [ 1, 2 ] }\n}\n",
		`{"amount":1e2,"currency":"\u0045UR","meta":{"a":1.0,"b":[1,2]}}`,
	}
	for _, body := range same {
		if got := fp(t, h, post(jsonCT, body)); got != base {
			t.Errorf("%s: fingerprint differs from the canonical equivalent", body)
		}
		// JSON-like media types are canonicalised too.
		for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", " application/json ;charset=UTF-8", "application/vnd.api+json", "application/problem+JSON"} {
			if got := fp(t, h, post(ct, body)); got != base {
				t.Errorf("%s with %q: fingerprint differs", body, ct)
			}
		}
	}
	different := []string{
		`{"amount":101,"currency":"EUR","meta":{"a":1,"b":[1,2]}}`,
		`{"amount":"100","currency":"EUR","meta":{"a":1,"b":[1,2]}}`,
		`{"amount":100,"currency":"eur","meta":{"a":1,"b":[1,2]}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":1,"b":[2,1]}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2],"c":null}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":1}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":true,"b":[1,2]}}`,
		`{"amount":100,"currency":"EUR ","meta":{"a":1,"b":[1,2]}}`,
		`[{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]}}]`,
		// A repeated key keeps every member: Go's decoders merge repeated
		// objects and let null leave a field as it was.
		`{"amount":5,"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]},"meta":{"a":1}}`,
		`{"amount":100,"currency":"EUR","meta":{"a":1,"b":[1,2]},"meta":null}`,
	}
	seen := map[Fingerprint]string{base: "base"}
	for _, body := range different {
		got := fp(t, h, post(jsonCT, body))
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same fingerprint as %s", body, prev)
		}
		seen[got] = body
	}
}

func TestFingerprintRequestLine(t *testing.T) {
	h := MustCanonicalHasher()
	in := FingerprintInput{Method: "POST", Path: "/payments/1", RawQuery: "a=1&b=2", ContentType: jsonCT, Body: []byte(`{"x":1}`)}
	base := fp(t, h, in)
	variants := map[string]func(*FingerprintInput){
		"method":        func(i *FingerprintInput) { i.Method = "PUT" },
		"path":          func(i *FingerprintInput) { i.Path = "/payments/2" },
		"path suffix":   func(i *FingerprintInput) { i.Path = "/payments/1/" },
		"query value":   func(i *FingerprintInput) { i.RawQuery = "a=1&b=3" },
		"query dropped": func(i *FingerprintInput) { i.RawQuery = "a=1" },
		"query empty":   func(i *FingerprintInput) { i.RawQuery = "" },
		"query extra":   func(i *FingerprintInput) { i.RawQuery = "a=1&b=2&c=3" },
		"query repeat":  func(i *FingerprintInput) { i.RawQuery = "a=1&a=1&b=2" },
		"body":          func(i *FingerprintInput) { i.Body = []byte(`{"x":2}`) },
		"no body":       func(i *FingerprintInput) { i.Body = nil },
		"path/query":    func(i *FingerprintInput) { i.Path = "/payments/1?a=1&b=2"; i.RawQuery = "" },
	}
	seen := map[Fingerprint]string{base: "base"}
	for name, change := range variants {
		in2 := in
		change(&in2)
		got := fp(t, h, in2)
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same fingerprint as %s", name, prev)
		}
		seen[got] = name
	}
	// Query parameter order and encoding do not matter; value order does.
	for _, q := range []string{"b=2&a=1", "a=1&b=2&", "a=%31&b=2", "b=%32&a=1"} {
		in2 := in
		in2.RawQuery = q
		if fp(t, h, in2) != base {
			t.Errorf("query %q: fingerprint differs from a=1&b=2", q)
		}
	}
	in2, in3 := in, in
	in2.RawQuery, in3.RawQuery = "a=1&a=2", "a=2&a=1"
	if fp(t, h, in2) == fp(t, h, in3) {
		t.Error("the order of repeated query values is ignored")
	}
	// An unparseable query is hashed raw: deterministic, and different from others.
	in2.RawQuery, in3.RawQuery = "a=%zz", "a=%yy"
	first, again := fp(t, h, in2), fp(t, h, in2)
	if first != again || first == fp(t, h, in3) {
		t.Error("raw queries are not hashed as given")
	}
}

func TestFingerprintForm(t *testing.T) {
	h := MustCanonicalHasher()
	const ct = "application/x-www-form-urlencoded"
	base := fp(t, h, post(ct, "amount=100&currency=EUR&tag=a&tag=b"))
	for _, body := range []string{"currency=EUR&amount=100&tag=a&tag=b", "tag=a&currency=EUR&tag=b&amount=100", "amount=1%30%30&currency=%45UR&tag=a&tag=b"} {
		if fp(t, h, post(ct, body)) != base {
			t.Errorf("form %q: fingerprint differs", body)
		}
		if fp(t, h, post(ct+"; charset=utf-8", body)) != base {
			t.Errorf("form %q with charset: fingerprint differs", body)
		}
	}
	for _, body := range []string{"amount=101&currency=EUR&tag=a&tag=b", "amount=100&currency=EUR&tag=b&tag=a", "amount=100&currency=EUR&tag=a"} {
		if fp(t, h, post(ct, body)) == base {
			t.Errorf("form %q: same fingerprint as the original", body)
		}
	}
	// A bad form body is hashed raw.
	if fp(t, h, post(ct, "a=%zz")) == fp(t, h, post(ct, "a=%yy")) {
		t.Error("malformed forms collide")
	}
	if fp(t, h, post(ct, "a=%zz")) != fp(t, h, post("text/plain", "a=%zz")) {
		t.Error("malformed form is not hashed as raw bytes")
	}
}

type mpPart struct {
	name, filename, ctype, content string
}

func multipartBody(t testing.TB, boundary string, parts ...mpPart) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	if err := w.SetBoundary(boundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		hdr := textproto.MIMEHeader{}
		if p.filename != "" {
			hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
		} else {
			hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		if p.ctype != "" {
			hdr.Set("Content-Type", p.ctype)
		}
		pw, err := w.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(p.content))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestFingerprintMultipart(t *testing.T) {
	h := MustCanonicalHasher()
	fields := []mpPart{
		{name: "amount", content: "100"},
		{name: "currency", content: "EUR"},
		{name: "receipt", filename: "r.pdf", ctype: "application/pdf", content: "%PDF-1.4 data"},
	}
	mp := func(boundary string, parts ...mpPart) FingerprintInput {
		ct, body := multipartBody(t, boundary, parts...)
		return FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: body}
	}
	base := fp(t, h, mp("b1", fields...))
	// Reordered fields and another boundary: same fingerprint.
	if got := fp(t, h, mp("other-boundary", fields[2], fields[0], fields[1])); got != base {
		t.Error("reordered multipart fields change the fingerprint")
	}
	changes := map[string][]mpPart{
		"field value":       {{name: "amount", content: "101"}, fields[1], fields[2]},
		"field name":        {{name: "amount2", content: "100"}, fields[1], fields[2]},
		"file content":      {fields[0], fields[1], {name: "receipt", filename: "r.pdf", ctype: "application/pdf", content: "%PDF-1.4 dat4"}},
		"file name":         {fields[0], fields[1], {name: "receipt", filename: "s.pdf", ctype: "application/pdf", content: "%PDF-1.4 data"}},
		"file type":         {fields[0], fields[1], {name: "receipt", filename: "r.pdf", ctype: "application/octet-stream", content: "%PDF-1.4 data"}},
		"file as field":     {fields[0], fields[1], {name: "receipt", content: "%PDF-1.4 data"}},
		"field missing":     {fields[0], fields[2]},
		"field duplicated":  {fields[0], fields[0], fields[1], fields[2]},
		"file missing":      {fields[0], fields[1]},
		"empty file":        {fields[0], fields[1], {name: "receipt", filename: "r.pdf", ctype: "application/pdf"}},
		"second file":       {fields[0], fields[1], fields[2], {name: "receipt", filename: "z.pdf", content: "x"}},
		"field to receipt":  {fields[1], fields[2], {name: "receipt", content: "100"}},
		"value moved names": {{name: "amount", content: "EUR"}, {name: "currency", content: "100"}, fields[2]},
	}
	seen := map[Fingerprint]string{base: "base"}
	for name, parts := range changes {
		got := fp(t, h, mp("b1", parts...))
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same fingerprint as %s", name, prev)
		}
		seen[got] = name
	}
	// Files of one field name are sorted by file name.
	f1 := mpPart{name: "docs", filename: "a.txt", content: "A"}
	f2 := mpPart{name: "docs", filename: "b.txt", content: "B"}
	if fp(t, h, mp("b", f1, f2, fields[0])) != fp(t, h, mp("b", fields[0], f2, f1)) {
		t.Error("the order of files under one field name changes the fingerprint")
	}
	// Values of one field name keep their order.
	a := fp(t, h, mp("b", mpPart{name: "tag", content: "x"}, mpPart{name: "tag", content: "y"}))
	b := fp(t, h, mp("b", mpPart{name: "tag", content: "y"}, mpPart{name: "tag", content: "x"}))
	if a == b {
		t.Error("the order of repeated multipart fields is ignored")
	}

	// WithoutFiles: file content, name, type and size no longer count, but
	// the field does.
	nf := MustCanonicalHasher(WithoutFiles())
	nfBase := fp(t, nf, mp("b1", fields...))
	for _, name := range []string{"file content", "file name", "file type", "empty file"} {
		if fp(t, nf, mp("b1", changes[name]...)) != nfBase {
			t.Errorf("WithoutFiles: %s changes the fingerprint", name)
		}
	}
	for _, name := range []string{"field value", "file missing", "file as field"} {
		if fp(t, nf, mp("b1", changes[name]...)) == nfBase {
			t.Errorf("WithoutFiles: %s does not change the fingerprint", name)
		}
	}
	if nfBase == base {
		t.Error("WithoutFiles gives the same fingerprint as with files")
	}
}

func TestFingerprintMultipartInvalid(t *testing.T) {
	h := MustCanonicalHasher()
	raw := func(body string) Fingerprint { return fp(t, h, post("application/octet-stream", body)) }
	for _, tt := range []struct{ ct, body string }{
		{"multipart/form-data", "--x\r\n\r\nv\r\n--x--\r\n"},                // no boundary
		{"multipart/form-data; boundary=", "--x\r\n\r\nv\r\n--x--\r\n"},     // empty boundary
		{"multipart/form-data; boundary=x", "garbage without any boundary"}, // no parts at all
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"},
		{"multipart/form-data; boundary=\"x", "--x\r\n\r\nv\r\n--x--\r\n"}, // bad media type
	} {
		got := fp(t, h, post(tt.ct, tt.body))
		if got != raw(tt.body) {
			t.Errorf("invalid multipart (%q, %q) is not hashed raw", tt.ct, tt.body)
		}
		if got != fp(t, h, post(tt.ct, tt.body)) {
			t.Errorf("invalid multipart (%q, %q) is not deterministic", tt.ct, tt.body)
		}
	}
}

// manyParts builds a multipart body of n small fields.
func manyParts(n int) FingerprintInput {
	body := strings.Repeat("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n", n) + "--b--\r\n"
	return post("multipart/form-data; boundary=b", body)
}

func TestFingerprintMultipartLimits(t *testing.T) {
	over := func(t *testing.T, h *CanonicalHasher, in FingerprintInput, want string) {
		t.Helper()
		f, err := h.Fingerprint(&in)
		if !errors.Is(err, ErrMultipartLimit) || !strings.Contains(err.Error(), want) || f != (Fingerprint{}) {
			t.Errorf("Fingerprint = %s, %v; want an error wrapping ErrMultipartLimit saying %q", f, err, want)
		}
	}
	t.Run("parts, default", func(t *testing.T) {
		h := MustCanonicalHasher()
		fp(t, h, manyParts(DefaultMaxParts))
		over(t, h, manyParts(DefaultMaxParts+1), "more than 1000 parts")
		over(t, h, manyParts(100_000), "more than 1000 parts")
		over(t, MustCanonicalHasher(WithoutFiles()), manyParts(DefaultMaxParts+1), "more than 1000 parts")
		// Zero and negative values keep the defaults.
		over(t, MustCanonicalHasher(WithMultipartLimits(0, -1)), manyParts(DefaultMaxParts+1), "more than 1000 parts")
	})
	t.Run("parts, configured", func(t *testing.T) {
		h := MustCanonicalHasher(WithMultipartLimits(3, 0))
		fp(t, h, manyParts(3))
		over(t, h, manyParts(4), "more than 3 parts")
		fp(t, MustCanonicalHasher(WithMultipartLimits(math.MaxInt, 0)), manyParts(DefaultMaxParts+1))
	})
	t.Run("header bytes", func(t *testing.T) {
		// 100 for the part, and 100 plus `Content-Disposition: form-data; name="a"` + CRLF.
		const one = 100 + 100 + len("Content-Disposition") + len(`form-data; name="a"`) + 4
		ct, body := multipartBody(t, "b", mpPart{name: "a", content: "1"}, mpPart{name: "a", content: "2"})
		in := FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: body}
		fp(t, MustCanonicalHasher(WithMultipartLimits(0, 2*one)), in)
		over(t, MustCanonicalHasher(WithMultipartLimits(0, 2*one-1)), in, fmt.Sprintf("more than %d bytes of part headers", 2*one-1))
		// The default, 1 MiB: 1,000 ordinary parts fit; 500 parts with
		// long file names do not.
		parts := make([]mpPart, DefaultMaxParts)
		for i := range parts {
			parts[i] = mpPart{name: fmt.Sprintf("field%d", i), filename: fmt.Sprintf("file-%d.pdf", i), ctype: "application/pdf", content: "x"}
		}
		ct, body = multipartBody(t, "b", parts...)
		fp(t, MustCanonicalHasher(), FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: body})
		parts = parts[:500]
		for i := range parts {
			parts[i].filename = strings.Repeat("n", 2000)
		}
		ct, body = multipartBody(t, "b", parts...)
		in = FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: body}
		over(t, MustCanonicalHasher(), in, "more than 1048576 bytes of part headers")
		fp(t, MustCanonicalHasher(WithMultipartLimits(0, math.MaxInt)), in)
	})
	t.Run("header lines", func(t *testing.T) {
		// Each line counts at least 100 bytes: 20 parts of 1,000 short
		// lines are over the default.
		var lines strings.Builder
		for i := 0; i < 1000; i++ {
			fmt.Fprintf(&lines, "X-%d: v\r\n", i)
		}
		part := "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n" + lines.String() + "\r\nv\r\n"
		body := strings.Repeat(part, 20) + "--b--\r\n"
		over(t, MustCanonicalHasher(), post("multipart/form-data; boundary=b", body), "bytes of part headers")
		fp(t, MustCanonicalHasher(), post("multipart/form-data; boundary=b", strings.Repeat(part, 5)+"--b--\r\n"))
	})
	t.Run("invalid multipart under the limits is hashed raw", func(t *testing.T) {
		h := MustCanonicalHasher(WithMultipartLimits(3, 0))
		body := "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated"
		if fp(t, h, post("multipart/form-data; boundary=x", body)) != fp(t, h, post("text/plain", body)) {
			t.Error("not hashed raw")
		}
	})
}

func TestFingerprintMalformedJSONFallsBack(t *testing.T) {
	h := MustCanonicalHasher()
	bad := `{"amount":100,`
	a := fp(t, h, post(jsonCT, bad))
	if a != fp(t, h, post(jsonCT, bad)) {
		t.Fatal("malformed JSON is not deterministic")
	}
	if a == fp(t, h, post(jsonCT, `{"amount":101,`)) {
		t.Fatal("different malformed JSON bodies collide")
	}
	if a != fp(t, h, post("text/plain", bad)) {
		t.Fatal("malformed JSON is not hashed as raw bytes")
	}
	// Whitespace matters for raw bytes.
	if a == fp(t, h, post(jsonCT, `{"amount":100, `)) {
		t.Fatal("raw fallback ignores whitespace")
	}
	// Strings that decoders turn into U+FFFD are not canonicalised either
	// (see internal/canonjson): a reordering is a different request.
	if fp(t, h, post(jsonCT, "{\"\xe6\":0,\"\x92\":1}")) == fp(t, h, post(jsonCT, "{\"\x92\":1,\"\xe6\":0}")) {
		t.Error("bodies that decode differently share a fingerprint")
	}
	// A failed canonicalisation must not poison the pooled state.
	good := fp(t, h, post(jsonCT, `{"b":1,"a":2}`))
	if good != fp(t, h, post(jsonCT, `{"a":2,"b":1}`)) {
		t.Fatal("canonical JSON broken after a malformed body")
	}
}

func TestFingerprintKindsDoNotCollide(t *testing.T) {
	h := MustCanonicalHasher()
	// Canonical JSON bytes hashed as JSON and as raw differ.
	body := `{"a":1}`
	if fp(t, h, post(jsonCT, body)) == fp(t, h, post("text/plain", body)) {
		t.Error("JSON and raw bodies with the same bytes collide")
	}
	if fp(t, h, post(jsonCT, body)) == fp(t, h, post("", body)) {
		t.Error("JSON and untyped bodies with the same bytes collide")
	}
	form := "a=1"
	if fp(t, h, post("application/x-www-form-urlencoded", form)) == fp(t, h, post("text/plain", form)) {
		t.Error("form and raw bodies with the same bytes collide")
	}
	// Raw types are all the same kind; the type itself is not hashed.
	if fp(t, h, post("text/plain", "x")) != fp(t, h, post("application/octet-stream", "x")) {
		t.Error("raw bodies of different raw types differ")
	}
	// An empty body is an empty body whatever its type.
	if fp(t, h, post(jsonCT, "")) != fp(t, h, post("", "")) {
		t.Error("empty JSON body differs from an empty body")
	}
	// Body bytes cannot be confused with the request line.
	a := fp(t, h, FingerprintInput{Method: "POST", Path: "/a", Body: []byte("b")})
	b := fp(t, h, FingerprintInput{Method: "POST", Path: "/ab"})
	if a == b {
		t.Error("path and body run together")
	}
}

func TestFingerprintIgnoredFields(t *testing.T) {
	h := MustCanonicalHasher(WithIgnoredFields("metadata.client_request_id", "items.*.timestamp"))
	a := fp(t, h, post(jsonCT, `{"amount":1,"metadata":{"client_request_id":"r1","src":"web"},"items":[{"sku":"x","timestamp":1}]}`))
	b := fp(t, h, post(jsonCT, `{"items":[{"timestamp":2,"sku":"x"}],"metadata":{"src":"web","client_request_id":"r2"},"amount":1}`))
	if a != b {
		t.Error("ignored fields change the fingerprint")
	}
	c := fp(t, h, post(jsonCT, `{"items":[{"timestamp":2,"sku":"y"}],"metadata":{"src":"web","client_request_id":"r2"},"amount":1}`))
	if a == c {
		t.Error("a non-ignored field does not change the fingerprint")
	}
	plain := MustCanonicalHasher()
	if fp(t, plain, post(jsonCT, `{"metadata":{"client_request_id":"r1"}}`)) == fp(t, plain, post(jsonCT, `{"metadata":{"client_request_id":"r2"}}`)) {
		t.Error("without WithIgnoredFields the field counts")
	}
	// Paths are case-sensitive: a member spelled otherwise, which
	// encoding/json would decode into the same field, still counts.
	ci := MustCanonicalHasher(WithIgnoredFields("metadata.request_id"))
	if fp(t, ci, post(jsonCT, `{"metadata":{"request_id":"r1"},"a":1}`)) != fp(t, ci, post(jsonCT, `{"a":1,"metadata":{"request_id":"r2"}}`)) {
		t.Error("ignored field counts")
	}
	if fp(t, ci, post(jsonCT, `{"metadata":{"request_id":"r1","REQUEST_ID":"x"}}`)) == fp(t, ci, post(jsonCT, `{"metadata":{"request_id":"r1","REQUEST_ID":"y"}}`)) {
		t.Error("a differently spelled member is ignored too")
	}
	// Through New and WithIgnoredFields.
	e := newTestEngine(t, WithIgnoredFields("metadata.client_request_id"))
	x := fp(t, e.cfg.hasher, post(jsonCT, `{"metadata":{"client_request_id":"r1"},"a":1}`))
	y := fp(t, e.cfg.hasher, post(jsonCT, `{"a":1,"metadata":{"client_request_id":"r2"}}`))
	if x != y {
		t.Error("WithIgnoredFields not applied to the default hasher")
	}
}

func TestFingerprintHashFunc(t *testing.T) {
	in := post(jsonCT, `{"a":1}`)
	sha := fp(t, MustCanonicalHasher(), in)
	// SHA-256 of the documented framing: version line, then method, path
	// and canonical query each with a 4-byte big-endian length, then the
	// body kind and the canonical body.
	want := sha256.Sum256([]byte("idemkit/2\n\x00\x00\x00\x04POST\x00\x00\x00\x09/payments\x00\x00\x00\x00j{\"a\":1}"))
	if sha != Fingerprint(want) {
		t.Errorf("fingerprint %s, want %x", sha, want)
	}
	short := fp(t, MustCanonicalHasher(WithHashAlgorithm(fnv128)), in)
	if short == sha {
		t.Error("hash function not applied")
	}
	if !bytes.Equal(short[16:], make([]byte, 16)) || bytes.Equal(short[:16], make([]byte, 16)) {
		t.Errorf("16-byte sum not stored in front: %s", short)
	}
	if s := sha.String(); len(s) != 64 || s != fmt.Sprintf("%x", want) {
		t.Errorf("String() = %q", s)
	}
}

func fnv128() hash.Hash { return fnv.New128a() }

// TestHashOptions: each hasher option works in NewCanonicalHasher and in
// New, with the same validation.
func TestHashOptions(t *testing.T) {
	for name, opt := range map[string]HashOption{
		"nil hash":     WithHashAlgorithm(nil),
		"short hash":   WithHashAlgorithm(func() hash.Hash { return fnv.New64a() }),
		"empty path":   WithIgnoredFields(""),
		"leading dot":  WithIgnoredFields(".a"),
		"trailing dot": WithIgnoredFields("a."),
		"double dot":   WithIgnoredFields("ok", "a..b"),
	} {
		if h, err := NewCanonicalHasher(opt); h != nil || !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: NewCanonicalHasher = %v, %v; want ErrInvalidOption", name, h, err)
		}
		if _, err := New(WithStore(stubStore{}), opt); !errors.Is(err, ErrInvalidOption) {
			t.Errorf("%s: New error %v, want ErrInvalidOption", name, err)
		}
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("MustCanonicalHasher accepted an invalid option")
			}
		}()
		MustCanonicalHasher(WithHashAlgorithm(nil))
	}()
	if h, err := NewCanonicalHasher(nil, WithIgnoredFields()); err != nil || h.ignore != nil {
		t.Errorf("nil option, no paths: %v, ignore %v", err, h)
	}

	// One option list gives the same fingerprints either way, and several
	// WithIgnoredFields add up.
	opts := []HashOption{WithHashAlgorithm(fnv128), WithIgnoredFields("a"), WithIgnoredFields("b"), WithoutFiles(), WithMultipartLimits(2, 0)}
	h := MustCanonicalHasher(opts...)
	all := []Option{WithStore(stubStore{})}
	for _, o := range opts {
		all = append(all, o)
	}
	e := newTestEngine(t, all...)
	_, f1 := multipartBody(t, "b", mpPart{name: "f", filename: "x", content: "1"})
	_, f2 := multipartBody(t, "b", mpPart{name: "f", filename: "y", content: "2"})
	_, three := multipartBody(t, "b", mpPart{name: "f"}, mpPart{name: "g"}, mpPart{name: "h"})
	mp := func(body []byte) FingerprintInput {
		return FingerprintInput{Method: "POST", Path: "/upload", ContentType: "multipart/form-data; boundary=b", Body: body}
	}
	for _, hh := range []PayloadHasher{h, e.cfg.hasher} {
		if fp(t, hh, post(jsonCT, `{"a":1,"b":2,"c":3}`)) != fp(t, hh, post(jsonCT, `{"c":3}`)) {
			t.Error("ignored fields count")
		}
		if fp(t, hh, post(jsonCT, `{"c":3}`)) == fp(t, MustCanonicalHasher(WithIgnoredFields("a", "b")), post(jsonCT, `{"c":3}`)) {
			t.Error("hash algorithm not applied")
		}
		if fp(t, hh, mp(f1)) != fp(t, hh, mp(f2)) {
			t.Error("files count")
		}
		if _, err := hh.Fingerprint(&FingerprintInput{Method: "POST", Path: "/upload", ContentType: "multipart/form-data; boundary=b", Body: three}); !errors.Is(err, ErrMultipartLimit) {
			t.Errorf("three parts with a limit of two: %v", err)
		}
	}
	if fp(t, h, post(jsonCT, `{"a":1}`)) != fp(t, e.cfg.hasher, post(jsonCT, `{"a":1}`)) {
		t.Error("New and NewCanonicalHasher differ for one option list")
	}
}

func TestFingerprintConcurrent(t *testing.T) {
	h := MustCanonicalHasher(WithIgnoredFields("x"))
	bodies := []string{`{"b":1,"a":[1,2,{"d":1,"c":2}]}`, `{"x":1,"y":2}`, `not json`, `[1,2,3]`}
	want := make([]Fingerprint, len(bodies))
	for i, b := range bodies {
		want[i] = fp(t, h, post(jsonCT, b))
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				k := (i + g) % len(bodies)
				f, _ := h.Fingerprint(&FingerprintInput{Method: "POST", Path: "/payments", ContentType: jsonCT, Body: []byte(bodies[k])})
				if f != want[k] {
					t.Errorf("concurrent fingerprint of %s differs", bodies[k])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestFingerprintLargeBodyShrinks(t *testing.T) {
	h := MustCanonicalHasher()
	big := `{"k":"` + strings.Repeat("x", 512<<10) + `"}`
	a := fp(t, h, post(jsonCT, big))
	b := fp(t, h, post(jsonCT, big))
	if a != b {
		t.Error("large body fingerprint not deterministic")
	}
	small := fp(t, h, post(jsonCT, `{"b":2,"a":1}`))
	if small != fp(t, h, post(jsonCT, `{"a":1,"b":2}`)) {
		t.Error("fingerprint broken after a large body")
	}
}

func TestMediaKind(t *testing.T) {
	tests := map[string]byte{
		"":                                  kindRaw,
		"application/json":                  kindJSON,
		"APPLICATION/JSON; charset=utf-8":   kindJSON,
		"application/merge-patch+json":      kindJSON,
		"application/json-seq":              kindRaw,
		"text/json":                         kindRaw,
		"+json":                             kindRaw,
		"application/x-www-form-urlencoded": kindForm,
		"multipart/form-data; boundary=x":   kindMultipart,
		"multipart/mixed; boundary=x":       kindRaw,
		"text/plain":                        kindRaw,
	}
	for ct, want := range tests {
		if got := mediaKind(ct); got != want {
			t.Errorf("mediaKind(%q) = %c, want %c", ct, got, want)
		}
	}
}

func TestAppendCanonicalQuery(t *testing.T) {
	tests := map[string]string{
		"":            "",
		"b=2&a=1":     "a=1&b=2",
		"a":           "a=",
		"a=1&a=0":     "a=1&a=0",
		"q=a+b":       "q=a+b",
		"q=a%20b":     "q=a+b",
		"x=%zz&a=1":   "x=%zz&a=1",
		"a=1;b=2":     "a=1;b=2",
		"%41=%42&c=d": "A=B&c=d",
	}
	for in, want := range tests {
		if got := string(appendCanonicalQuery(nil, in)); got != want {
			t.Errorf("appendCanonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFingerprintFieldsCannotShift(t *testing.T) {
	h := MustCanonicalHasher()
	// A query that does not parse is hashed raw; with separator framing a
	// newline moved between path and query produced the same bytes.
	a := fp(t, h, FingerprintInput{Method: "POST", Path: "/a\n", RawQuery: "%zz"})
	b := fp(t, h, FingerprintInput{Method: "POST", Path: "/a", RawQuery: "\n%zz"})
	if a == b {
		t.Fatal("path and query content shifted between fields without changing the fingerprint")
	}
}
