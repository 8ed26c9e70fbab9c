package core

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// KeyExtractor reads the idempotency key of a request. found is false when
// the request carries no key; err is for a key that is present but
// malformed (several values, a broken quoted string).
type KeyExtractor interface {
	ExtractKey(r Request) (key string, found bool, err error)
}

// KeyExtractorFunc adapts a function to KeyExtractor.
type KeyExtractorFunc func(r Request) (key string, found bool, err error)

// ExtractKey calls f(r).
func (f KeyExtractorFunc) ExtractKey(r Request) (string, bool, error) { return f(r) }

// KeyValidator accepts or rejects a key and returns the key to use: its
// canonical form. Identity follows validation: a format that ignores
// letter case must return one spelling (UUID returns lower case, ULID
// upper case), so that "ABC…" and "abc…" name one key and run once. A
// validator of exact keys returns key unchanged; an empty canonical form
// also means unchanged. The error text is shown to the client in the 400
// problem's detail.
type KeyValidator interface {
	ValidateKey(key string) (canonical string, err error)
}

// KeyValidatorFunc adapts a function to KeyValidator.
type KeyValidatorFunc func(key string) (string, error)

// ValidateKey calls f(key).
func (f KeyValidatorFunc) ValidateKey(key string) (string, error) { return f(key) }

// HeaderKey reads the key from one request header. The value may be a bare
// token or an RFC 8941 sf-string ("..."), which is unquoted: both name the
// same key. Repeated headers or a list of values are an error.
type HeaderKey string

// ExtractKey implements KeyExtractor.
func (h HeaderKey) ExtractKey(r Request) (string, bool, error) {
	vals := r.Header(string(h))
	switch len(vals) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, ErrSeveralKeys
	}
	key, err := ParseKeyValue(vals[0])
	return key, true, err
}

// ParseKeyValue turns one header value into a key: surrounding whitespace
// is dropped and an sf-string is unquoted. A bare value containing a comma
// is a list of keys and rejected with ErrSeveralKeys.
func ParseKeyValue(v string) (string, error) {
	v = strings.Trim(v, " \t")
	if v == "" {
		return "", fmt.Errorf("%w: empty", ErrMalformedKey)
	}
	if v[0] != '"' {
		if strings.IndexByte(v, ',') >= 0 {
			return "", ErrSeveralKeys
		}
		return v, nil
	}
	return parseSFString(v)
}

// parseSFString unquotes an RFC 8941 sf-string that makes up the whole value.
func parseSFString(v string) (string, error) {
	var b []byte // allocated only when the string has escapes
	start := 1
	for i := 1; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch == '\\':
			if i+1 >= len(v) || (v[i+1] != '"' && v[i+1] != '\\') {
				return "", fmt.Errorf("%w: bad escape in quoted key", ErrMalformedKey)
			}
			b = append(b, v[start:i]...)
			b = append(b, v[i+1])
			i++
			start = i + 1
		case ch == '"':
			rest := strings.TrimLeft(v[i+1:], " \t")
			if rest != "" {
				if rest[0] == ',' {
					return "", ErrSeveralKeys
				}
				return "", fmt.Errorf("%w: text after quoted key", ErrMalformedKey)
			}
			if i == 1 {
				return "", fmt.Errorf("%w: empty", ErrMalformedKey) // `""`, like an empty bare value
			}
			if b == nil {
				return v[1:i], nil
			}
			return string(append(b, v[start:i]...)), nil
		case ch < 0x20 || ch > 0x7e:
			return "", fmt.Errorf("%w: non-printable character in quoted key", ErrMalformedKey)
		}
	}
	return "", fmt.Errorf("%w: unterminated quoted key", ErrMalformedKey)
}

// UUID accepts canonical 8-4-4-4-12 hexadecimal UUIDs of any version, in
// any letter case, and names them in lower case. It is the default
// validator.
func UUID() KeyValidator { return uuidValidator{} }

type uuidValidator struct{}

var errNotUUID = errors.New("key must be a UUID (8-4-4-4-12 hexadecimal)")

func (uuidValidator) ValidateKey(k string) (string, error) {
	if len(k) != 36 {
		return "", errNotUUID
	}
	upper := false
	for i := 0; i < 36; i++ {
		c := k[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", errNotUUID
			}
		default:
			if !isHex(c) {
				return "", errNotUUID
			}
			upper = upper || c >= 'A' && c <= 'F'
		}
	}
	if upper {
		return strings.ToLower(k), nil
	}
	return k, nil
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// ULID accepts 26-character ULIDs (Crockford base32, any case) and names
// them in upper case, their canonical form.
func ULID() KeyValidator { return ulidValidator{} }

type ulidValidator struct{}

var errNotULID = errors.New("key must be a ULID (26 Crockford base32 characters)")

func (ulidValidator) ValidateKey(k string) (string, error) {
	if len(k) != 26 || k[0] > '7' {
		return "", errNotULID
	}
	lower := false
	for i := 0; i < len(k); i++ {
		c := k[i] | 0x20 // fold letters to lower case; digits are unchanged
		switch {
		case '0' <= k[i] && k[i] <= '9':
		case 'a' <= c && c <= 'z' && c != 'i' && c != 'l' && c != 'o' && c != 'u':
			lower = lower || k[i] == c
		default:
			return "", errNotULID
		}
	}
	if lower {
		return strings.ToUpper(k), nil
	}
	return k, nil
}

// Token accepts any non-empty key of printable ASCII characters without
// leading or trailing spaces, e.g. a webhook delivery id.
func Token() KeyValidator { return tokenValidator{} }

type tokenValidator struct{}

var errNotToken = errors.New("key must be printable ASCII without surrounding spaces")

func (tokenValidator) ValidateKey(k string) (string, error) {
	if k == "" || k[0] == ' ' || k[len(k)-1] == ' ' {
		return "", errNotToken
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", errNotToken
		}
	}
	return k, nil
}

// Regex accepts keys that match pattern (anchor it yourself) and are
// printable ASCII.
func Regex(pattern string) (KeyValidator, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: key pattern: %v", ErrInvalidOption, err)
	}
	return regexValidator{re}, nil
}

// MustRegex is Regex that panics on a bad pattern, for package-level setup.
func MustRegex(pattern string) KeyValidator {
	v, err := Regex(pattern)
	if err != nil {
		panic(err)
	}
	return v
}

type regexValidator struct{ re *regexp.Regexp }

func (r regexValidator) ValidateKey(k string) (string, error) {
	if _, err := (tokenValidator{}).ValidateKey(k); err != nil {
		return "", err
	}
	if !r.re.MatchString(k) {
		return "", fmt.Errorf("key must match %s", r.re)
	}
	return k, nil
}

func namedValidator(name string) (KeyValidator, bool) {
	switch name {
	case "uuid":
		return UUID(), true
	case "ulid":
		return ULID(), true
	case "token", "any":
		return Token(), true
	}
	return nil, false
}
