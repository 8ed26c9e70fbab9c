package core

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"strings"
	"testing"
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
	h := MustCanonicalHasher()
	nf := MustCanonicalHasher(WithoutFiles())
	const smallParts, smallHeader = 3, 1000
	small := MustCanonicalHasher(WithMultipartLimits(smallParts, smallHeader))
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
