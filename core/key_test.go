package core

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestParseKeyValue(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"bare uuid", "0f8fad5b-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"bare token", "abc", "abc"},
		{"bare with inner space", "a b", "a b"},
		{"bare keeps quote inside", `a"b`, `a"b`},
		{"bare keeps backslash", `a\b`, `a\b`},
		{"bare trimmed spaces", "  abc  ", "abc"},
		{"bare trimmed tabs", "\tabc\t", "abc"},
		{"quoted", `"abc"`, "abc"},
		{"quoted trimmed", " \t\"abc\"\t ", "abc"},
		{"quoted keeps inner spaces", `" a b "`, " a b "},
		{"quoted escaped quote", `"a\"b"`, `a"b`},
		{"quoted escaped backslash", `"a\\b"`, `a\b`},
		{"quoted only escapes", `"\\\""`, `\"`},
		{"quoted escape at start and end", `"\"abc\""`, `"abc"`},
		{"quoted comma inside", `"a,b"`, "a,b"},
		{"quoted uuid", `"0f8fad5b-d9cb-469f-a165-70867728950e"`, "0f8fad5b-d9cb-469f-a165-70867728950e"},
		{"quoted trailing space after quote", `"abc"  `, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeyValue(tt.in)
			if err != nil {
				t.Fatalf("ParseKeyValue(%q) error %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseKeyValue(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseKeyValueBareAndQuotedNameSameKey(t *testing.T) {
	for _, k := range []string{"abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "01ARZ3NDEKTSV4RRFFQ69G5FAV"} {
		bare, err1 := ParseKeyValue(k)
		quoted, err2 := ParseKeyValue(`"` + k + `"`)
		if err1 != nil || err2 != nil || bare != quoted || bare != k {
			t.Fatalf("%q: bare=%q,%v quoted=%q,%v", k, bare, err1, quoted, err2)
		}
	}
}

func TestParseKeyValueErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrMalformedKey},
		{"only spaces", "   ", ErrMalformedKey},
		{"only tabs", "\t\t", ErrMalformedKey},
		{"quoted empty", `""`, ErrMalformedKey},
		{"quoted empty with spaces around", ` "" `, ErrMalformedKey},
		{"bare list", "a,b", ErrSeveralKeys},
		{"bare list with spaces", "a, b", ErrSeveralKeys},
		{"bare trailing comma", "a,", ErrSeveralKeys},
		{"bare leading comma", ",a", ErrSeveralKeys},
		{"lone comma", ",", ErrSeveralKeys},
		{"quoted list", `"a","b"`, ErrSeveralKeys},
		{"quoted list with space", `"a" , "b"`, ErrSeveralKeys},
		{"quoted then bare", `"a",b`, ErrSeveralKeys},
		{"unterminated", `"abc`, ErrMalformedKey},
		{"lone quote", `"`, ErrMalformedKey},
		{"unterminated after escape", `"abc\"`, ErrMalformedKey},
		{"bad escape n", `"a\nb"`, ErrMalformedKey},
		{"bad escape u", `"a\u0041"`, ErrMalformedKey},
		{"escape at end", `"abc\`, ErrMalformedKey},
		{"text after quote", `"abc"def`, ErrMalformedKey},
		{"text after quote and space", `"abc" def`, ErrMalformedKey},
		{"second quoted string", `"a""b"`, ErrMalformedKey},
		{"semicolon param", `"abc";x=1`, ErrMalformedKey},
		{"tab inside quotes", "\"a\tb\"", ErrMalformedKey},
		{"newline inside quotes", "\"a\nb\"", ErrMalformedKey},
		{"DEL inside quotes", "\"a\x7fb\"", ErrMalformedKey},
		{"non-ASCII inside quotes", "\"caf\u00e9\"", ErrMalformedKey},
		{"NUL inside quotes", "\"a\x00b\"", ErrMalformedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKeyValue(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseKeyValue(%q) = %q, %v; want error %v", tt.in, got, err, tt.want)
			}
			if got != "" {
				t.Fatalf("ParseKeyValue(%q) returned key %q with error", tt.in, got)
			}
			other := ErrMalformedKey
			if tt.want == ErrMalformedKey {
				other = ErrSeveralKeys
			}
			if errors.Is(err, other) {
				t.Fatalf("ParseKeyValue(%q) error %v also matches %v", tt.in, err, other)
			}
		})
	}
}

func TestParseSFStringDoesNotAliasOnEscapes(t *testing.T) {
	// Without escapes the result is a substring; with escapes it is
	// rebuilt. Both must carry exactly the content between the quotes.
	in := `"x\\y\"z"`
	got, err := parseSFString(in)
	if err != nil || got != `x\y"z` {
		t.Fatalf("parseSFString(%q) = %q, %v", in, got, err)
	}
	long := `"` + strings.Repeat(`ab\\`, 100) + `"`
	got, err = parseSFString(long)
	if err != nil || got != strings.Repeat(`ab\`, 100) {
		t.Fatalf("parseSFString(long) = %q, %v", got, err)
	}
}

// headerExchange is a Request that only answers Header; every other
// method panics through the nil embedded interface.
type headerExchange struct {
	Request
	h http.Header
}

func (e headerExchange) Header(name string) []string { return e.h.Values(name) }

func TestHeaderKeyExtractKey(t *testing.T) {
	const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	tests := []struct {
		name      string
		extractor HeaderKey
		h         http.Header
		want      string
		found     bool
		err       error
	}{
		{"absent", HeaderKey(DefaultHeaderName), http.Header{}, "", false, nil},
		{"nil header", HeaderKey(DefaultHeaderName), nil, "", false, nil},
		{"other header only", HeaderKey(DefaultHeaderName), http.Header{"X-Webhook-Id": {"w1"}}, "", false, nil},
		{"bare", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {uuid}}, uuid, true, nil},
		{"quoted", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {`"` + uuid + `"`}}, uuid, true, nil},
		{"case-insensitive name", HeaderKey("idempotency-key"), http.Header{"Idempotency-Key": {"k"}}, "k", true, nil},
		{"webhook header", HeaderKey("X-Webhook-ID"), http.Header{"X-Webhook-Id": {"evt_1"}, "Idempotency-Key": {"other"}}, "evt_1", true, nil},
		{"repeated header", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {"a", "b"}}, "", true, ErrSeveralKeys},
		{"repeated identical header", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {"a", "a"}}, "", true, ErrSeveralKeys},
		{"list in one header", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {"a, b"}}, "", true, ErrSeveralKeys},
		{"empty value", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {""}}, "", true, ErrMalformedKey},
		{"broken quotes", HeaderKey(DefaultHeaderName), http.Header{"Idempotency-Key": {`"abc`}}, "", true, ErrMalformedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, found, err := tt.extractor.ExtractKey(headerExchange{h: tt.h})
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if found != tt.found || key != tt.want {
				t.Fatalf("ExtractKey = %q, %v; want %q, %v", key, found, tt.want, tt.found)
			}
		})
	}
}

func TestUUIDValidator(t *testing.T) {
	v := UUID()
	valid := []string{
		"0f8fad5b-d9cb-469f-a165-70867728950e", // v4
		"0F8FAD5B-D9CB-469F-A165-70867728950E", // upper case
		"0f8FAD5b-d9Cb-469f-A165-70867728950e", // mixed case
		"00000000-0000-0000-0000-000000000000", // nil UUID
		"ffffffff-ffff-ffff-ffff-ffffffffffff", // max UUID
		"6ba7b810-9dad-11d1-80b4-00c04fd430c8", // v1
		"017f22e2-79b0-7cc3-98c4-dc0c0c07398f", // v7
		"a8098c1a-f86e-11da-bd1a-00112444be1e",
		"12345678-1234-0234-1234-123456789abc", // version 0: any version is fine
		"12345678-1234-f234-c234-123456789abc", // version f, odd variant
	}
	for _, k := range valid {
		if _, err := v.ValidateKey(k); err != nil {
			t.Errorf("UUID().ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := []string{
		"",
		"0f8fad5b-d9cb-469f-a165-70867728950",   // 35 chars
		"0f8fad5b-d9cb-469f-a165-70867728950ee", // 37 chars
		"0f8fad5bd9cb469fa16570867728950e",      // no dashes
		"{0f8fad5b-d9cb-469f-a165-70867728950e}",
		"urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
		"0f8fad5b0d9cb-469f-a165-70867728950e", // dash moved right
		"0f8fad5-bd9cb-469f-a165-70867728950e", // dash moved left
		"0f8fad5b-d9cb0469f-a165-70867728950e", // second dash replaced
		"0f8fad5b-d9cb-469f0a165-70867728950e", // third dash replaced
		"0f8fad5b-d9cb-469f-a165070867728950e", // fourth dash replaced
		"0f8fad5b-d9cb-469f-a16-570867728950e", // fourth dash wrong place
		"0f8fad5g-d9cb-469f-a165-70867728950e", // g is not hex
		"0f8fad5b-d9cb-469f-a165-70867728950G", // G at the end
		"0f8fad5b-d9cb-469f-a165-7086772895 e", // space
		"0f8fad5b-d9cb-469f-a165-70867728950\x00",
		" 0f8fad5b-d9cb-469f-a165-70867728950e", // leading space makes 37
		"0f8fad5b_d9cb_469f_a165_70867728950e",
		"------------------------------------",
		"0f8fad5b-d9cb-469f-a165-7086772895\u00e9", // 36 bytes, non-ASCII
	}
	for _, k := range invalid {
		if _, err := v.ValidateKey(k); err == nil {
			t.Errorf("UUID().ValidateKey(%q) = nil, want error", k)
		}
	}
	// Every single position replaced by a wrong character is rejected.
	good := []byte("0f8fad5b-d9cb-469f-a165-70867728950e")
	for i := range good {
		k := append([]byte(nil), good...)
		if k[i] == '-' {
			k[i] = 'a'
		} else {
			k[i] = '-'
		}
		if _, err := v.ValidateKey(string(k)); err == nil {
			t.Errorf("UUID().ValidateKey(%q) with position %d broken = nil", k, i)
		}
		k[i] = 'z'
		if _, err := v.ValidateKey(string(k)); err == nil {
			t.Errorf("UUID().ValidateKey(%q) with position %d broken = nil", k, i)
		}
	}
}

func TestULIDValidator(t *testing.T) {
	v := ULID()
	valid := []string{
		"01ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01arz3ndektsv4rrffq69g5fav",
		"01ArZ3nDeKtSv4RrFfQ69g5FaV",
		"00000000000000000000000000",
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ", // largest ULID
		"0123456789ABCDEFGHJKMNPQRS",
		"0TVWXYZabcdefghjkmnpqrstvw",
	}
	for _, k := range valid {
		if _, err := v.ValidateKey(k); err != nil {
			t.Errorf("ULID().ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := []string{
		"",
		"01ARZ3NDEKTSV4RRFFQ69G5FA",   // 25
		"01ARZ3NDEKTSV4RRFFQ69G5FAVX", // 27
		"81ARZ3NDEKTSV4RRFFQ69G5FAV",  // overflows 128 bits
		"Z1ARZ3NDEKTSV4RRFFQ69G5FAV",
		"01ARZ3NDEKTSV4RRFFQ69G5FAI", // I excluded
		"01ARZ3NDEKTSV4RRFFQ69G5FAL", // L excluded
		"01ARZ3NDEKTSV4RRFFQ69G5FAO", // O excluded
		"01ARZ3NDEKTSV4RRFFQ69G5FAU", // U excluded
		"01arz3ndektsv4rrffq69g5fai",
		"01arz3ndektsv4rrffq69g5fau",
		"01ARZ3NDEKTSV4RRFFQ69G5FA-",
		"01ARZ3NDEKTSV4RRFFQ69G5FA@", // '@'|0x20 is '`'
		"01ARZ3NDEKTSV4RRFFQ69G5FA[", // '['|0x20 is '{'
		"01ARZ3NDEKTSV4RRFFQ69G5FA ",
		"01ARZ3NDEKTSV4RRFFQ69G5FA\x01", // folds to '!'
		"01ARZ3NDEKTSV4RRFFQ69G5FA\x0a", // folds to '*'
		"01ARZ3NDEKTSV4RRFFQ69G5FA\xc1", // folds to 0xe1
		"0f8fad5b-d9cb-469f-a165-70867728950e",
	}
	for _, k := range invalid {
		if _, err := v.ValidateKey(k); err == nil {
			t.Errorf("ULID().ValidateKey(%q) = nil, want error", k)
		}
	}
	// Every byte value in every non-leading position: accepted exactly
	// when it is a Crockford base32 digit.
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZabcdefghjkmnpqrstvwxyz"
	for c := 0; c < 256; c++ {
		k := []byte("01ARZ3NDEKTSV4RRFFQ69G5FAV")
		k[13] = byte(c)
		want := strings.IndexByte(alphabet, byte(c)) >= 0
		if _, err := v.ValidateKey(string(k)); (err == nil) != want {
			got := err == nil
			t.Errorf("ULID with byte %#x at 13: accepted=%v, want %v", c, got, want)
		}
	}
}

func TestTokenValidator(t *testing.T) {
	v := Token()
	valid := []string{"a", "evt_123", "a b", "~!@#$%^&*()", `"quoted"`, strings.Repeat("x", 1000)}
	for _, k := range valid {
		if _, err := v.ValidateKey(k); err != nil {
			t.Errorf("Token().ValidateKey(%q) = %v, want nil", k, err)
		}
	}
	invalid := []string{"", " ", " a", "a ", "a\tb", "a\nb", "\x00", "a\x7f", "caf\u00e9", "\x1f"}
	for _, k := range invalid {
		if _, err := v.ValidateKey(k); err == nil {
			t.Errorf("Token().ValidateKey(%q) = nil, want error", k)
		}
	}
}

func TestRegexValidator(t *testing.T) {
	v, err := Regex(`^ord_[0-9]{4}$`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.ValidateKey("ord_1234"); err != nil {
		t.Errorf("ord_1234: %v", err)
	}
	for _, k := range []string{"ord_123", "ord_12345", "xord_1234", "", "ord_1234\n"} {
		if _, err := v.ValidateKey(k); err == nil {
			t.Errorf("ValidateKey(%q) = nil, want error", k)
		}
	}
	// The pattern alone is not enough: keys must be printable ASCII too.
	loose := MustRegex(`.*`)
	for _, k := range []string{"", " x", "x ", "a\x00b", "caf\u00e9"} {
		if _, err := loose.ValidateKey(k); err == nil {
			t.Errorf("MustRegex(.*).ValidateKey(%q) = nil, want error", k)
		}
	}
	if _, err := loose.ValidateKey("anything goes"); err != nil {
		t.Errorf("MustRegex(.*): %v", err)
	}
	// The error names the pattern.
	if _, err := v.ValidateKey("nope"); err == nil || !strings.Contains(err.Error(), "ord_") {
		t.Errorf("error %v does not name the pattern", err)
	}
}

func TestRegexBadPattern(t *testing.T) {
	v, err := Regex(`(`)
	if !errors.Is(err, ErrInvalidOption) || v != nil {
		t.Fatalf("Regex(\"(\") = %v, %v; want nil, ErrInvalidOption", v, err)
	}
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("MustRegex did not panic on a bad pattern")
		}
		if err, ok := r.(error); !ok || !errors.Is(err, ErrInvalidOption) {
			t.Fatalf("MustRegex panicked with %v, want an ErrInvalidOption error", r)
		}
	}()
	MustRegex(`[`)
}

func TestNamedValidator(t *testing.T) {
	for name, want := range map[string]KeyValidator{"uuid": UUID(), "ulid": ULID(), "token": Token(), "any": Token()} {
		got, ok := namedValidator(name)
		if !ok || got != want {
			t.Errorf("namedValidator(%q) = %T, %v; want %T", name, got, ok, want)
		}
	}
	for _, name := range []string{"", "UUID", "regex", "uuid4"} {
		if _, ok := namedValidator(name); ok {
			t.Errorf("namedValidator(%q) accepted", name)
		}
	}
}

func TestKeyValidatorFunc(t *testing.T) {
	boom := errors.New("boom")
	var got string
	f := KeyValidatorFunc(func(k string) (string, error) { got = k; return k, boom })
	if _, err := f.ValidateKey("k1"); err != boom || got != "k1" {
		t.Fatalf("KeyValidatorFunc: err=%v got=%q", err, got)
	}
}
