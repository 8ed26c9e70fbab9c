package core

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// Canonical JSON, as fingerprinted:
//
//   - insignificant whitespace is dropped;
//   - object members are sorted by key; when a key repeats, the last
//     member wins (as in encoding/json and JavaScript);
//   - strings are unescaped and re-encoded one way: raw UTF-8 except '"',
//     '\' and control characters, so "\u0041" and "A" are equal;
//   - strings with invalid UTF-8 or unpaired surrogate escapes are
//     rejected: decoders turn them into U+FFFD, so keys that differ here
//     may be one key to the handler, and their order would matter;
//   - numbers are compared by exact decimal value: 1, 1.0, 10e-1 and 0.1e1
//     are equal, -0 equals 0; no float rounding is involved;
//   - members whose dotted path is ignored are left out.
//
// Input that is not one valid JSON value (or nests deeper than
// maxJSONDepth) is rejected with errNotJSON, and the caller hashes the raw
// bytes instead.

var errNotJSON = errors.New("not canonicalisable JSON")

const maxJSONDepth = 256

// maxCanonExp bounds the exponent of a normalised number; numbers beyond
// it are not canonicalised. The bound applies to the value, not to how it
// is written, so that equal numbers are treated alike.
const maxCanonExp = 1e9

type member struct {
	keyStart, keyEnd, end int // byte ranges in canon.out
	// prefix is the first eight bytes of the canonical key (closing quote
	// included), big-endian, zero-padded: it decides most comparisons.
	prefix uint64
}

// keyPrefix returns the first eight bytes of key as a big-endian word,
// zero-padded on the right.
func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var w uint64
	for i, b := range key {
		w |= uint64(b) << (56 - 8*i)
	}
	return w
}

type canon struct {
	acts    []activeSet
	src     []byte
	pos     int
	out     []byte
	tmp     []byte
	members []member
	ignore  *ignoreNode
}

// canonicalJSON appends the canonical form of src to c.out.
func (c *canon) run(src []byte) error {
	c.src, c.pos = src, 0
	c.skipWS()
	// Ignore matching state lives in c.acts, one slot per depth, so that
	// nothing escapes to the heap; without ignores it is nil throughout.
	var act *activeSet
	if c.ignore != nil {
		if len(c.acts) < maxJSONDepth+2 {
			c.acts = make([]activeSet, maxJSONDepth+2)
		}
		c.acts[0] = activeSet{}
		c.acts[0].add(c.ignore)
		act = &c.acts[0]
	}
	if err := c.value(0, act); err != nil {
		return err
	}
	c.skipWS()
	if c.pos != len(c.src) {
		return errNotJSON
	}
	return nil
}

func (c *canon) skipWS() {
	if c.pos < len(c.src) && c.src[c.pos] > ' ' {
		return // the common case: no whitespace at all
	}
	for c.pos < len(c.src) {
		switch c.src[c.pos] {
		case ' ', '\t', '\n', '\r':
			c.pos++
		default:
			return
		}
	}
}

func (c *canon) value(depth int, act *activeSet) error {
	if c.pos >= len(c.src) {
		return errNotJSON
	}
	switch ch := c.src[c.pos]; {
	case ch == '{':
		if depth >= maxJSONDepth {
			return errNotJSON
		}
		return c.object(depth+1, act)
	case ch == '[':
		if depth >= maxJSONDepth {
			return errNotJSON
		}
		return c.array(depth+1, act)
	case ch == '"':
		return c.str()
	case ch == '-' || ('0' <= ch && ch <= '9'):
		return c.number()
	case ch == 't':
		return c.literal("true")
	case ch == 'f':
		return c.literal("false")
	case ch == 'n':
		return c.literal("null")
	}
	return errNotJSON
}

func (c *canon) literal(lit string) error {
	if len(c.src)-c.pos < len(lit) || string(c.src[c.pos:c.pos+len(lit)]) != lit {
		return errNotJSON
	}
	c.out = append(c.out, lit...)
	c.pos += len(lit)
	return nil
}

func (c *canon) array(depth int, act *activeSet) error {
	c.pos++ // [
	c.out = append(c.out, '[')
	var next *activeSet
	if act != nil {
		next = &c.acts[depth]
		*next, _ = act.step("", true)
	}
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == ']' {
		c.pos++
		c.out = append(c.out, ']')
		return nil
	}
	for {
		c.skipWS()
		if err := c.value(depth, next); err != nil {
			return err
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return errNotJSON
		}
		switch c.src[c.pos] {
		case ',':
			c.pos++
			c.out = append(c.out, ',')
		case ']':
			c.pos++
			c.out = append(c.out, ']')
			return nil
		default:
			return errNotJSON
		}
	}
}

func (c *canon) object(depth int, act *activeSet) error {
	c.pos++ // {
	start := len(c.out)
	c.out = append(c.out, '{')
	base := len(c.members)
	c.skipWS()
	if c.pos < len(c.src) && c.src[c.pos] == '}' {
		c.pos++
		c.out = append(c.out, '}')
		return nil
	}
	// Members are written in input order as "key":value, separated by
	// commas; most objects then need no second pass. Objects whose keys
	// are out of order (or repeat) are rewritten once, sorted.
	sorted := true
	for {
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return errNotJSON
		}
		memberStart := len(c.out)
		if len(c.members) > base {
			c.out = append(c.out, ',')
		}
		keyStart := len(c.out)
		if err := c.str(); err != nil {
			return err
		}
		keyEnd := len(c.out)
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != ':' {
			return errNotJSON
		}
		c.pos++
		c.out = append(c.out, ':')
		c.skipWS()
		var next *activeSet
		skip := false
		if act != nil {
			next = &c.acts[depth]
			*next, skip = act.step(string(c.out[keyStart+1:keyEnd-1]), false)
		}
		if err := c.value(depth, next); err != nil {
			return err
		}
		if skip {
			c.out = c.out[:memberStart]
		} else {
			m := member{keyStart, keyEnd, len(c.out), keyPrefix(c.out[keyStart:keyEnd])}
			if n := len(c.members); n > base && !keyLess(c.out, c.members[n-1], m) {
				sorted = false // out of order, or a repeated key
			}
			c.members = append(c.members, m)
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return errNotJSON
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != '}' {
			return errNotJSON
		}
		c.pos++
		break
	}
	if !sorted {
		c.emitObject(start, c.members[base:])
	}
	c.members = c.members[:base]
	c.out = append(c.out, '}')
	return nil
}

// emitObject rewrites the members written after out[start] ('{') sorted by
// key, the last of equal keys winning, without the closing brace.
func (c *canon) emitObject(start int, ms []member) {
	sortMembers(c.out, ms)
	c.tmp = append(c.tmp[:0], c.out[start:]...)
	c.out = c.out[:start+1]
	first := true
	for i, m := range ms {
		if i+1 < len(ms) && keyEqual(c.tmp, ms[i], ms[i+1], start) {
			continue // a later member with the same key wins
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		c.out = append(c.out, c.tmp[m.keyStart-start:m.end-start]...)
	}
}

func keyEqual(tmp []byte, a, b member, start int) bool {
	if a.prefix != b.prefix {
		return false
	}
	return string(tmp[a.keyStart-start:a.keyEnd-start]) == string(tmp[b.keyStart-start:b.keyEnd-start])
}

// keyLess orders members by their canonical key bytes, closing quote
// included. Those encodings are prefix-free (a key ends at its first
// unescaped quote), so the order is total, and two keys that agree on
// their zero-padded first eight bytes and are no longer than eight bytes
// are equal.
func keyLess(buf []byte, a, b member) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	if a.keyEnd-a.keyStart <= 8 && b.keyEnd-b.keyStart <= 8 {
		return false
	}
	return string(buf[a.keyStart:a.keyEnd]) < string(buf[b.keyStart:b.keyEnd])
}

// sortMembers is a stable sort by key (insertion sort for the small objects
// that dominate request bodies, merge sort above that).
func sortMembers(buf []byte, ms []member) {
	if len(ms) <= 16 {
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && keyLess(buf, ms[j], ms[j-1]); j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
		return
	}
	mid := len(ms) / 2
	sortMembers(buf, ms[:mid])
	sortMembers(buf, ms[mid:])
	if !keyLess(buf, ms[mid], ms[mid-1]) {
		return
	}
	merged := make([]member, 0, len(ms))
	i, j := 0, mid
	for i < mid && j < len(ms) {
		if keyLess(buf, ms[j], ms[i]) {
			merged = append(merged, ms[j])
			j++
		} else {
			merged = append(merged, ms[i])
			i++
		}
	}
	merged = append(merged, ms[i:mid]...)
	merged = append(merged, ms[j:]...)
	copy(ms, merged)
}

// str copies a JSON string at c.pos to c.out in canonical form.
func (c *canon) str() error {
	c.pos++ // opening quote
	c.out = append(c.out, '"')
	src := c.src
	for {
		// Copy the longest run that needs no attention in one append,
		// testing eight bytes at a time.
		// The high bits of everything scanned are or-ed together, so that
		// pure-ASCII runs (most of them) skip UTF-8 validation.
		i := c.pos
		var high uint64
		for i+8 <= len(src) {
			w := binary.LittleEndian.Uint64(src[i:])
			if needsAttention(w) {
				break
			}
			high |= w
			i += 8
		}
		for i < len(src) {
			ch := src[i]
			if ch == '"' || ch == '\\' || ch < 0x20 {
				break
			}
			high |= uint64(ch)
			i++
		}
		// Runs end only at ASCII bytes, so no valid rune straddles two.
		if high&msb != 0 && !utf8.Valid(src[c.pos:i]) {
			return errNotJSON
		}
		c.out = append(c.out, src[c.pos:i]...)
		c.pos = i
		if i >= len(src) {
			return errNotJSON
		}
		switch src[i] {
		case '"':
			c.pos++
			c.out = append(c.out, '"')
			return nil
		case '\\':
			if err := c.escape(); err != nil {
				return err
			}
		default: // raw control character: invalid JSON
			return errNotJSON
		}
	}
}

func (c *canon) escape() error {
	if c.pos+1 >= len(c.src) {
		return errNotJSON
	}
	e := c.src[c.pos+1]
	c.pos += 2
	switch e {
	case '"', '\\':
		c.out = append(c.out, '\\', e)
	case '/':
		c.out = append(c.out, '/')
	case 'b', 'f', 'n', 'r', 't':
		c.out = append(c.out, '\\', e)
	case 'u':
		r, ok := c.hex4()
		if !ok {
			return errNotJSON
		}
		if 0xD800 <= r && r < 0xDC00 && c.pos+6 <= len(c.src) && c.src[c.pos] == '\\' && c.src[c.pos+1] == 'u' {
			save := c.pos
			c.pos += 2
			lo, ok := c.hex4()
			if ok && 0xDC00 <= lo && lo < 0xE000 {
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			} else {
				c.pos = save
			}
		}
		if 0xD800 <= r && r < 0xE000 {
			return errNotJSON // unpaired surrogate
		}
		c.writeRune(r)
	default:
		return errNotJSON
	}
	return nil
}

func (c *canon) hex4() (rune, bool) {
	if c.pos+4 > len(c.src) {
		return 0, false
	}
	var r rune
	for _, h := range c.src[c.pos : c.pos+4] {
		var v byte
		switch {
		case '0' <= h && h <= '9':
			v = h - '0'
		case 'a' <= h && h <= 'f':
			v = h - 'a' + 10
		case 'A' <= h && h <= 'F':
			v = h - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	c.pos += 4
	return r, true
}

const hexDigits = "0123456789abcdef"

// writeRune writes r as the canonical string content: escapes for the
// characters JSON requires, raw UTF-8 for everything else. (Lone
// surrogates never get here: escape rejects them.)
func (c *canon) writeRune(r rune) {
	switch {
	case r == '"' || r == '\\':
		c.out = append(c.out, '\\', byte(r))
	case r < 0x20:
		switch r {
		case '\b':
			c.out = append(c.out, '\\', 'b')
		case '\f':
			c.out = append(c.out, '\\', 'f')
		case '\n':
			c.out = append(c.out, '\\', 'n')
		case '\r':
			c.out = append(c.out, '\\', 'r')
		case '\t':
			c.out = append(c.out, '\\', 't')
		default:
			c.out = append(c.out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		}
	case 0xD800 <= r && r < 0xE000:
		c.out = append(c.out, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	default:
		c.out = utf8.AppendRune(c.out, r)
	}
}

// number writes a JSON number as its exact decimal value: sign, the
// significant digits without leading or trailing zeros, and a decimal
// exponent ("e-1") when it is not zero. Zero of any form is "0".
func (c *canon) number() error {
	src := c.src
	i := c.pos
	neg := false
	if src[i] == '-' {
		neg = true
		i++
	}
	intStart := i
	if i < len(src) && src[i] == '0' {
		i++
	} else {
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
	}
	intEnd := i
	if intEnd == intStart {
		return errNotJSON
	}
	fracStart, fracEnd := i, i
	if i < len(src) && src[i] == '.' {
		i++
		fracStart = i
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			i++
		}
		fracEnd = i
		if fracEnd == fracStart {
			return errNotJSON
		}
	}
	var exp int64 // wide enough for any body length on 32-bit platforms too
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		expNeg := false
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			expNeg = src[i] == '-'
			i++
		}
		expStart := i
		for i < len(src) && '0' <= src[i] && src[i] <= '9' {
			// Saturate rather than reject here: whether a number is
			// absurd depends on its value, checked once it is normalised.
			if exp <= maxCanonExp {
				exp = exp*10 + int64(src[i]-'0')
			}
			i++
		}
		if i == expStart {
			return errNotJSON
		}
		if expNeg {
			exp = -exp
		}
	}
	c.pos = i

	// Fast path: a plain integer without trailing zeros is already canonical.
	if c.pos == intEnd && src[intEnd-1] != '0' {
		c.out = append(c.out, src[intStart-boolInt(neg):intEnd]...)
		return nil
	}
	// Significant digits: integer part then fraction, leading and trailing
	// zeros dropped; each fraction digit lowers the exponent by one.
	intPart, fracPart := src[intStart:intEnd], src[fracStart:fracEnd]
	exp -= int64(len(fracPart))
	for len(fracPart) > 0 && fracPart[len(fracPart)-1] == '0' {
		fracPart = fracPart[:len(fracPart)-1]
		exp++
	}
	if len(fracPart) == 0 {
		for len(intPart) > 0 && intPart[len(intPart)-1] == '0' {
			intPart = intPart[:len(intPart)-1]
			exp++
		}
	}
	for len(intPart) > 0 && intPart[0] == '0' {
		intPart = intPart[1:]
	}
	if len(intPart) == 0 {
		for len(fracPart) > 0 && fracPart[0] == '0' {
			fracPart = fracPart[1:]
		}
	}
	if len(intPart) == 0 && len(fracPart) == 0 {
		c.out = append(c.out, '0')
		return nil
	}
	if exp > maxCanonExp || exp < -maxCanonExp {
		return errNotJSON // absurd exponent: hash the raw bytes
	}
	if neg {
		c.out = append(c.out, '-')
	}
	c.out = append(c.out, intPart...)
	c.out = append(c.out, fracPart...)
	if exp != 0 {
		c.out = append(c.out, 'e')
		c.out = appendInt(c.out, int(exp))
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendInt(b []byte, n int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// needsAttention reports whether any byte of w is '"', '\\' or below 0x20
// (the classic SWAR zero-byte and less-than tests). Bytes >= 0x80 never
// match: the tests exclude them with ^w.
func needsAttention(w uint64) bool {
	quote := w ^ (lsb * '"')
	slash := w ^ (lsb * '\\')
	return ((quote-lsb)&^quote|(slash-lsb)&^slash|(w-lsb*0x20)&^w)&msb != 0
}
