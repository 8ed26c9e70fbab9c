package core

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func sampleResponses() []Response {
	return []Response{
		{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"id":1}`)},
		{Status: 201, Header: http.Header{
			"Content-Type": {"text/plain; charset=utf-8"},
			"Vary":         {"Accept", "Accept-Encoding", ""},
			"X-Empty":      {},
			"X-Binary":     {"\x00\xff\n"},
		}, Body: []byte("created\n")},
		{Status: 204, Header: http.Header{"Etag": {`"abc"`}}},
		{Status: 404},
		{Status: 100, Body: []byte{}},
		{Status: 999, Header: http.Header{"": {""}}, Body: bytes.Repeat([]byte{0, 1, 2, 0xff}, 5000)},
		{Status: 422, Header: http.Header{strings.Repeat("H", 300): {strings.Repeat("v", 70000)}}, Body: []byte("x")},
	}
}

func encodeResponse(t testing.TB, r Response) []byte {
	t.Helper()
	b, err := BinarySerializer{}.Encode(nil, &r)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", r, err)
	}
	return b
}

// sameResponse compares responses treating nil and empty header maps,
// value lists and bodies as equal.
func sameResponse(a, b Response) bool {
	if a.Status != b.Status || !bytes.Equal(a.Body, b.Body) || len(a.Header) != len(b.Header) {
		return false
	}
	for k, va := range a.Header {
		vb, ok := b.Header[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

func TestBinarySerializerRoundTrip(t *testing.T) {
	for _, r := range sampleResponses() {
		enc := encodeResponse(t, r)
		if enc[0] != binaryFormatVersion {
			t.Fatalf("first byte %d, want format version %d", enc[0], binaryFormatVersion)
		}
		got, err := BinarySerializer{}.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%d)): %v", r.Status, err)
		}
		if !sameResponse(r, got) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
		}
		// Multi-valued headers keep their order.
		if v := r.Header["Vary"]; v != nil && !reflect.DeepEqual(got.Header["Vary"], v) {
			t.Fatalf("Vary = %q, want %q", got.Header["Vary"], v)
		}
	}
}

func TestBinarySerializerAppends(t *testing.T) {
	r := Response{Status: 200, Body: []byte("b")}
	prefix := []byte("prefix")
	out, err := BinarySerializer{}.Encode(prefix, &r)
	if err != nil || !bytes.HasPrefix(out, prefix) {
		t.Fatalf("Encode did not append: %q, %v", out, err)
	}
	got, err := BinarySerializer{}.Decode(out[len(prefix):])
	if err != nil || !sameResponse(r, got) {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
}

func TestBinarySerializerNilHeaderAndEmptyBody(t *testing.T) {
	enc := encodeResponse(t, Response{Status: 204})
	// version, status 204 (2-byte uvarint), 0 headers, 0 body
	if want := []byte{1, 0xcc, 0x01, 0, 0}; !bytes.Equal(enc, want) {
		t.Fatalf("Encode = %x, want %x", enc, want)
	}
	got, err := BinarySerializer{}.Decode(enc)
	if err != nil || got.Status != 204 || len(got.Header) != 0 || len(got.Body) != 0 {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	enc2 := encodeResponse(t, Response{Status: 204, Header: http.Header{}, Body: []byte{}})
	if !bytes.Equal(enc, enc2) {
		t.Fatalf("nil and empty header/body encode differently: %x vs %x", enc, enc2)
	}
}

func TestBinarySerializerRejectsCorrupt(t *testing.T) {
	valid := encodeResponse(t, Response{Status: 200, Header: http.Header{
		"Content-Type": {"application/json"},
		"Vary":         {"Accept", "Origin"},
	}, Body: []byte(`{"ok":true}`)})

	mustReject := func(name string, data []byte) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("%s: Decode(%x) panicked: %v", name, data, p)
				}
			}()
			_, err = BinarySerializer{}.Decode(data)
		}()
		if !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: Decode(%x) error %v, want ErrCorruptRecord", name, data, err)
		}
	}

	mustReject("nil", nil)
	mustReject("empty", []byte{})
	for _, v := range []byte{0, 2, 0xff} {
		bad := append([]byte{v}, valid[1:]...)
		mustReject("version", bad)
	}
	for n := 0; n < len(valid); n++ {
		mustReject("truncated", valid[:n])
	}
	mustReject("trailing byte", append(append([]byte(nil), valid...), 0))
	mustReject("trailing bytes", append(append([]byte(nil), valid...), "more"...))

	// Hand-built records with bad fields.
	rec := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	str := func(s string) []byte { return append(uv(uint64(len(s))), s...) }
	one := []byte{binaryFormatVersion}
	mustReject("status 0", rec(one, uv(0), uv(0), uv(0)))
	mustReject("status 99", rec(one, uv(99), uv(0), uv(0)))
	mustReject("status 1000", rec(one, uv(1000), uv(0), uv(0)))
	mustReject("status huge", rec(one, uv(1<<63), uv(0), uv(0)))
	mustReject("status overflowing varint", rec(one, bytes.Repeat([]byte{0xff}, 11), uv(0), uv(0)))
	mustReject("header count too large", rec(one, uv(200), uv(1000), uv(0)))
	mustReject("header count huge", rec(one, uv(200), uv(1<<62), uv(0)))
	mustReject("header name too long", rec(one, uv(200), uv(1), uv(50), []byte("ab"), uv(0), uv(0)))
	mustReject("value count too large", rec(one, uv(200), uv(1), str("A"), uv(1<<40), uv(0)))
	mustReject("value too long", rec(one, uv(200), uv(1), str("A"), uv(1), uv(10), []byte("v"), uv(0)))
	mustReject("missing value", rec(one, uv(200), uv(1), str("A"), uv(2), str("v")))
	mustReject("body shorter than its length", rec(one, uv(200), uv(0), uv(5), []byte("abc")))
	mustReject("body longer than its length", rec(one, uv(200), uv(0), uv(1), []byte("abc")))
	mustReject("body length huge", rec(one, uv(200), uv(0), uv(1<<63), []byte("abc")))

	// The hand-built helpers do build valid records.
	ok := rec(one, uv(200), uv(1), str("A"), uv(2), str("v"), str("w"), str("body"))
	got, err := BinarySerializer{}.Decode(ok)
	if err != nil || got.Status != 200 || !reflect.DeepEqual(got.Header["A"], []string{"v", "w"}) || string(got.Body) != "body" {
		t.Fatalf("Decode(hand-built) = %+v, %v", got, err)
	}
}

// Every byte of a valid encoding flipped to every value: Decode never
// panics and either fails with ErrCorruptRecord or returns a response
// that round-trips.
func TestBinarySerializerMutations(t *testing.T) {
	valid := encodeResponse(t, Response{Status: 201, Header: http.Header{"X": {"1", "22"}}, Body: []byte("hi")})
	for i := range valid {
		for v := 0; v < 256; v++ {
			data := append([]byte(nil), valid...)
			data[i] = byte(v)
			checkDecode(t, data)
		}
	}
}

func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	var r Response
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("Decode(%x) panicked: %v", data, p)
			}
		}()
		r, err = BinarySerializer{}.Decode(data)
	}()
	if err != nil {
		if !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("Decode(%x) error %v does not wrap ErrCorruptRecord", data, err)
		}
		return
	}
	if r.Status < 100 || r.Status > 999 {
		t.Fatalf("Decode(%x) accepted status %d", data, r.Status)
	}
	again, err := BinarySerializer{}.Decode(encodeResponse(t, r))
	if err != nil {
		t.Fatalf("re-encoding of Decode(%x) = %+v does not decode: %v", data, r, err)
	}
	if !reflect.DeepEqual(r, again) {
		t.Fatalf("Decode(%x) = %+v, after re-encoding %+v", data, r, again)
	}
}

func TestEncodeBinarySkip(t *testing.T) {
	h := http.Header{
		"Content-Type":   {"text/plain"},
		"Set-Cookie":     {"session=secret"},
		"Date":           {"Mon, 01 Jan 2024 00:00:00 GMT"},
		"Content-Length": {"5"},
		"X-Request-Id":   {"r1", "r2"},
	}
	enc := encodeBinary(nil, 201, h, &headerRules{}, nil, []byte("hello"))
	got, err := BinarySerializer{}.Decode(enc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := Response{Status: 201, Header: http.Header{"Content-Type": {"text/plain"}, "X-Request-Id": {"r1", "r2"}}, Body: []byte("hello")}
	if !sameResponse(got, want) {
		t.Fatalf("encodeBinary with skip = %+v, want %+v", got, want)
	}
	// Everything skipped: no headers at all, still a valid record.
	enc = encodeBinary(nil, 200, http.Header{"Date": {"x"}}, &headerRules{}, nil, nil)
	got, err = BinarySerializer{}.Decode(enc)
	if err != nil || got.Header != nil || got.Status != 200 {
		t.Fatalf("all headers skipped: %+v, %v", got, err)
	}
	// The header map is not modified.
	if len(h) != 5 {
		t.Fatalf("encodeBinary modified the header map: %v", h)
	}
}

func TestStoredHeaders(t *testing.T) {
	h := http.Header{
		"Content-Type":       {"application/json"},
		"Set-Cookie":         {"s=1"},
		"Connection":         {"close"},
		"Idempotency-Status": {"Original"},
		"X-Custom":           {"a", "b"},
		"Etag":               {`"v1"`},
	}
	all := &headerRules{}
	got := all.storedHeaders(h, nil)
	want := http.Header{"Content-Type": {"application/json"}, "X-Custom": {"a", "b"}, "Etag": {`"v1"`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("storedHeaders = %v, want %v", got, want)
	}
	if len(h) != 6 {
		t.Fatal("storedHeaders modified its input")
	}
	clean := http.Header{"Content-Type": {"a"}}
	if got := all.storedHeaders(clean, nil); !reflect.DeepEqual(got, clean) {
		t.Fatalf("clean headers changed: %v", got)
	}
	// Allowlist: only those (and Content-Type); never the forbidden ones.
	allow := &headerRules{allow: []string{"Etag", "Set-Cookie", "X-Missing"}}
	got = allow.storedHeaders(h, nil)
	want = http.Header{"Content-Type": {"application/json"}, "Etag": {`"v1"`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("storedHeaders(allow) = %v, want %v", got, want)
	}
	// Denylist on top of the fixed one.
	deny := &headerRules{deny: map[string]bool{"Etag": true}}
	got = deny.storedHeaders(h, nil)
	want = http.Header{"Content-Type": {"application/json"}, "X-Custom": {"a", "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("storedHeaders(deny) = %v, want %v", got, want)
	}
	// Headers outer middleware set and the handler left alone are not
	// stored; one the handler changed (in place, or by appending) is.
	outer := http.Header{"X-Request-Id": {"r1"}, "Access-Control-Allow-Origin": {"https://a.example"}, "X-Custom": {"a"}}
	var snap HeaderSnapshot
	snap.Take(outer)
	final := http.Header{"X-Request-Id": {"r1"}, "Access-Control-Allow-Origin": {"https://b.example"}, "X-Custom": {"a", "b"}, "Etag": {`"v1"`}}
	got = all.storedHeaders(final, &snap)
	want = http.Header{"Access-Control-Allow-Origin": {"https://b.example"}, "X-Custom": {"a", "b"}, "Etag": {`"v1"`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("storedHeaders(outer) = %v, want %v", got, want)
	}
	// Replay filtering drops what must never be replayed, whatever the record says.
	rec := http.Header{"Set-Cookie": {"stolen=1"}, "Connection": {"close"}, "Etag": {"x"}, "Location": {"/p/1"}}
	deny.filterReplay(rec)
	if !reflect.DeepEqual(rec, http.Header{"Location": {"/p/1"}}) {
		t.Fatalf("filterReplay = %v", rec)
	}
}
