package core_test

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/bytedance/sonic"

	"github.com/idemkit/idempotency/core"
)

// benchBody builds a realistic JSON order of about size bytes: nested
// objects, arrays, numbers, escapes and non-ASCII text, with lower-case
// keys.
func benchBody(size int) []byte { return orderBody(size, snakeOrder) }

// camelBody is benchBody with camelCase keys, as many JSON APIs have:
// every object then has keys that might fold together with another.
func camelBody(size int) []byte { return orderBody(size, camelOrder) }

// orderShape is the text of an order body: head, then items formatted
// from item (sku number, qty, price units, cents, note number) until the
// body reaches its size, then tail.
type orderShape struct{ head, item, tail string }

var (
	snakeOrder = orderShape{
		head: `{"currency":"EUR","customer":{"name":"Zoë \"Z\" Müller","email":"zoe@example.com","tags":["vip","eu"]},"items":[`,
		item: `{"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"note":"line\n%d ünïcode"}`,
		tail: `],"amount":123456,"metadata":{"client_request_id":"abc","ts":1700000000}}`,
	}
	camelOrder = orderShape{
		head: `{"currencyCode":"EUR","customerInfo":{"fullName":"Zoë \"Z\" Müller","emailAddress":"zoe@example.com","tagList":["vip","eu"]},"lineItems":[`,
		item: `{"skuId":"SKU-%05d","quantity":%d,"unitPrice":%d.%02d,"noteText":"line\n%d ünïcode"}`,
		tail: `],"totalAmount":123456,"metaData":{"clientRequestId":"abc","createdAt":1700000000}}`,
	}
)

func orderBody(size int, o orderShape) []byte {
	var b strings.Builder
	b.WriteString(o.head)
	for i := 0; b.Len() < size-len(o.tail)-50; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, o.item, i, i%7+1, 100+i, i%100, i)
	}
	b.WriteString(o.tail)
	return []byte(b.String())
}

// textBody builds a JSON document of about size bytes dominated by text:
// a few dozen records with long descriptions, as in a CMS or ticketing API.
func textBody(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"type":"ticket_batch","tickets":[`)
	para := strings.Repeat("The customer reports that the invoice total differs from the quote; attached are both PDFs. ", 12)
	for i := 0; b.Len() < size-200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"title":"Ticket %d about billing","body":"%s","priority":%d,"tags":["billing","q4"]}`, i, para, i%4)
	}
	b.WriteString(`],"source":"email"}`)
	return []byte(b.String())
}

// BenchmarkFingerprintKeys measures bodies with mixed-case keys, and with
// keys that do fold together, against the all-lower-case benchBody.
func BenchmarkFingerprintKeys(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{
		{"camel/200B", camelBody(200)},
		{"camel/100KB", camelBody(100 << 10)},
		{"colliding/200B", []byte(`{"amount":1,"AMOUNT":1000,"currency":"EUR","Currency":"USD","customer":{"name":"Zoë","Name":"Z","email":"zoe@example.com"},"items":[{"sku":"a","qty":1,"QTY":5}]}`)},
	} {
		in := &core.FingerprintInput{Method: "POST", Path: "/payments", ContentType: "application/json", Body: bc.body}
		b.Run(bc.name, func(b *testing.B) {
			benchHasher(b, in, nil)
		})
	}
}

var sink core.Fingerprint

// benchHasher measures the default hasher on in. Outside the timed loop
// it checks that the body is canonicalised (not hashed raw, which would
// look fast) or fails with wantErr, and that the last timed run gave the
// same result as the first.
func benchHasher(b *testing.B, in *core.FingerprintInput, wantErr error) {
	h := core.MustCanonicalHasher()
	want, err := h.Fingerprint(in)
	if !errors.Is(err, wantErr) {
		b.Fatalf("Fingerprint error %v, want %v", err, wantErr)
	}
	if wantErr == nil {
		raw := *in
		raw.ContentType = "application/octet-stream"
		if r, err := h.Fingerprint(&raw); err != nil || r == want {
			b.Fatalf("%s body hashed as raw bytes (%v)", in.ContentType, err)
		}
	}
	b.SetBytes(int64(len(in.Body)))
	b.ReportAllocs()
	b.ResetTimer()
	var got core.Fingerprint
	for i := 0; i < b.N; i++ {
		got, err = h.Fingerprint(in)
	}
	b.StopTimer()
	if got != want || !errors.Is(err, wantErr) {
		b.Fatalf("last run gave %s, %v; want %s, %v", got, err, want, wantErr)
	}
	sink = got
}

func benchSizes() []struct {
	name string
	body []byte
} {
	return []struct {
		name string
		body []byte
	}{{"200B", benchBody(200)}, {"100KB", benchBody(100 << 10)}, {"100KB-text", textBody(100 << 10)}}
}

// BenchmarkFingerprint compares the canonical fingerprint with hashing the
// raw bytes (the floor) and with a decode-sort-encode baseline through
// encoding/json (what a naive implementation does).
func BenchmarkFingerprint(b *testing.B) {
	for _, sz := range benchSizes() {
		in := &core.FingerprintInput{Method: "POST", Path: "/payments", ContentType: "application/json", Body: sz.body}
		b.Run("canonical/"+sz.name, func(b *testing.B) {
			benchHasher(b, in, nil)
		})
		b.Run("raw-sha256/"+sz.name, func(b *testing.B) {
			want := sha256.Sum256(sz.body)
			b.SetBytes(int64(len(sz.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sink = sha256.Sum256(sz.body)
			}
			if sink != want {
				b.Fatal("raw SHA-256 changed")
			}
		})
		b.Run("sonic-decode-sort-encode/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(sz.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var v any
				if err := sonic.ConfigStd.Unmarshal(sz.body, &v); err != nil {
					b.Fatal(err)
				}
				out, _ := sonic.ConfigStd.Marshal(v) // ConfigStd sorts map keys
				sink = sha256.Sum256(out)
			}
		})
		b.Run("decode-sort-encode/"+sz.name, func(b *testing.B) {
			b.SetBytes(int64(len(sz.body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				var v any
				if err := json.Unmarshal(sz.body, &v); err != nil {
					b.Fatal(err)
				}
				out, _ := json.Marshal(sortKeys(v)) // Marshal sorts map keys
				sink = sha256.Sum256(out)
			}
		})
	}
}

func sortKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			x[k] = sortKeys(x[k])
		}
		return x
	case []any:
		for i := range x {
			x[i] = sortKeys(x[i])
		}
	}
	return v
}

// BenchmarkFingerprintMultipart measures a typical form and hostile ones:
// 100,000 empty parts (stopped at the 1,000-part limit), and parts full of
// header lines (stopped at the 1 MiB header limit).
func BenchmarkFingerprintMultipart(b *testing.B) {
	const boundary = "XyZb0undary"
	ct := "multipart/form-data; boundary=" + boundary
	part := func(hdr, content string) string {
		return "--" + boundary + "\r\n" + hdr + "\r\n" + content + "\r\n"
	}
	typical := part("Content-Disposition: form-data; name=\"amount\"\r\n", "100") +
		part("Content-Disposition: form-data; name=\"currency\"\r\n", "EUR") +
		part("Content-Disposition: form-data; name=\"receipt\"; filename=\"r.pdf\"\r\nContent-Type: application/pdf\r\n", strings.Repeat("%PDF", 1024)) +
		"--" + boundary + "--\r\n"
	manyParts := strings.Repeat(part("", ""), 100_000) + "--" + boundary + "--\r\n"
	var lines strings.Builder
	for i := 0; i < 9_000; i++ {
		fmt.Fprintf(&lines, "X-%d: v\r\n", i)
	}
	manyHeaders := strings.Repeat(part(lines.String(), ""), 100) + "--" + boundary + "--\r\n"
	for _, bc := range []struct {
		name, body string
		err        error // the hostile bodies are refused, at a limit
	}{{"typical", typical, nil}, {"100k-parts", manyParts, core.ErrMultipartLimit}, {"header-lines", manyHeaders, core.ErrMultipartLimit}} {
		in := &core.FingerprintInput{Method: "POST", Path: "/upload", ContentType: ct, Body: []byte(bc.body)}
		b.Run(bc.name, func(b *testing.B) {
			benchHasher(b, in, bc.err)
		})
	}
}

// BenchmarkFingerprintScale measures the canonical fingerprint of
// key-dense and text-heavy bodies from 1 KB to 10 MB beside raw SHA-256
// over the same bytes: the canonical ÷ raw throughput ratio is the
// target (SPEC §7), and B/op shows whether garbage grows with the body.
func BenchmarkFingerprintScale(b *testing.B) {
	for _, shape := range []struct {
		name string
		make func(int) []byte
	}{{"key-dense", benchBody}, {"text", textBody}} {
		for _, sz := range []struct {
			name string
			n    int
		}{{"1KB", 1 << 10}, {"100KB", 100 << 10}, {"1MB", 1 << 20}, {"10MB", 10 << 20}} {
			body := shape.make(sz.n)
			in := &core.FingerprintInput{Method: "POST", Path: "/payments", ContentType: "application/json", Body: body}
			b.Run(shape.name+"/"+sz.name+"/canonical", func(b *testing.B) {
				benchHasher(b, in, nil)
			})
			b.Run(shape.name+"/"+sz.name+"/raw-sha256", func(b *testing.B) {
				want := sha256.Sum256(body)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var got [32]byte
				for i := 0; i < b.N; i++ {
					got = sha256.Sum256(body)
				}
				if got != want {
					b.Fatal("raw SHA-256 changed")
				}
				sink = got
			})
		}
	}
}
