// Package refcanon is a frozen copy of internal/canonjson as of commit
// 5eaa2c1, before the streaming hasher: it materialises the whole
// canonical form and rewrites unsorted objects. Tests use it as the
// oracle that the streaming path must agree with byte for byte. Do not
// optimise it.
package refcanon

import (
	"cmp"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// ErrNotJSON is the one error of Canon.Append: the input is not one valid
// JSON value, nests deeper than MaxDepth, has a string that decoders would
// turn into U+FFFD, or a number with an absurd exponent.
var ErrNotJSON = errors.New("not canonicalisable JSON")

// MaxDepth is the deepest nesting of arrays and objects Canon accepts.
const MaxDepth = 256

// maxCanonExp bounds the exponent of a normalised number; numbers beyond
// it are not canonicalised. The bound applies to the value, not to how it
// is written, so that equal numbers are treated alike.
const maxCanonExp = 1e9

type member struct {
	keyStart, keyEnd, end int // byte ranges in Canon.out
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

// Canon writes canonical JSON. Its zero value is ready to use; it keeps
// scratch space between calls (dropping what a huge document grew), so
// reuse one, e.g. from a sync.Pool. It is not safe for concurrent use.
type Canon struct {
	acts    []activeSet
	src     []byte
	pos     int
	out     []byte
	tmp     []byte
	members []member

	// Scratch for objects whose keys may fold together (see foldCollision).
	fold   []byte   // folded keys
	hashes []uint64 // one per member
	frecs  []member // folded keys, as members of fold
	grp    []member // one fold group
}

// Append appends the canonical form of src to dst, leaving out the
// members that ig names (nil: none), and returns the extended buffer.
// It never changes dst[:len(dst)]. When src is not canonicalisable it
// returns dst (with whatever capacity it grew) and ErrNotJSON.
func (c *Canon) Append(dst, src []byte, ig *Ignore) ([]byte, error) {
	c.out, c.members = dst, c.members[:0]
	err := c.run(src, ig)
	out := c.out
	c.out, c.src = nil, nil // pin neither the caller's buffer nor the body
	c.shrink()
	if err != nil {
		return out[:len(dst)], err
	}
	return out, nil
}

// shrink drops scratch buffers that a huge document grew, so that a
// pooled Canon does not pin them.
func (c *Canon) shrink() {
	const keep = 256 << 10
	if cap(c.tmp) > keep {
		c.tmp = nil
	}
	if cap(c.members) > 4096 {
		c.members = nil
	}
	if cap(c.fold) > keep {
		c.fold = nil
	}
	if cap(c.hashes) > 4096 || cap(c.frecs) > 4096 || cap(c.grp) > 4096 {
		c.hashes, c.frecs, c.grp = nil, nil, nil
	}
}

// run appends the canonical form of src to c.out.
func (c *Canon) run(src []byte, ig *Ignore) error {
	c.src, c.pos = src, 0
	c.skipWS()
	// Ignore matching state lives in c.acts, one slot per depth, so that
	// nothing escapes to the heap; without ignores it is nil throughout.
	var act *activeSet
	if ig != nil {
		if len(c.acts) < MaxDepth+2 {
			c.acts = make([]activeSet, MaxDepth+2)
		}
		c.acts[0] = activeSet{}
		c.acts[0].add(ig.root)
		act = &c.acts[0]
	}
	if err := c.value(0, act); err != nil {
		return err
	}
	c.skipWS()
	if c.pos != len(c.src) {
		return ErrNotJSON
	}
	return nil
}

func (c *Canon) skipWS() {
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

func (c *Canon) value(depth int, act *activeSet) error {
	if c.pos >= len(c.src) {
		return ErrNotJSON
	}
	switch ch := c.src[c.pos]; {
	case ch == '{':
		if depth >= MaxDepth {
			return ErrNotJSON
		}
		return c.object(depth+1, act)
	case ch == '[':
		if depth >= MaxDepth {
			return ErrNotJSON
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
	return ErrNotJSON
}

func (c *Canon) literal(lit string) error {
	if len(c.src)-c.pos < len(lit) || string(c.src[c.pos:c.pos+len(lit)]) != lit {
		return ErrNotJSON
	}
	c.out = append(c.out, lit...)
	c.pos += len(lit)
	return nil
}

func (c *Canon) array(depth int, act *activeSet) error {
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
			return ErrNotJSON
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
			return ErrNotJSON
		}
	}
}

func (c *Canon) object(depth int, act *activeSet) error {
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
	// are out of order are rewritten once, sorted.
	sorted := true
	// foldy: some key has an upper-case ASCII letter or a non-ASCII byte.
	// Without one, no two keys can fold together unless they are equal.
	foldy := false
	for {
		c.skipWS()
		if c.pos >= len(c.src) || c.src[c.pos] != '"' {
			return ErrNotJSON
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
			return ErrNotJSON
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
			if n := len(c.members); n > base && keyLess(c.out, m, c.members[n-1]) {
				sorted = false
			}
			if !foldy {
				foldy = keyMayFold(c.out[keyStart:keyEnd], m.prefix)
			}
			c.members = append(c.members, m)
		}
		c.skipWS()
		if c.pos >= len(c.src) {
			return ErrNotJSON
		}
		if c.src[c.pos] == ',' {
			c.pos++
			continue
		}
		if c.src[c.pos] != '}' {
			return ErrNotJSON
		}
		c.pos++
		break
	}
	// An object already in order needs nothing more: repeated keys and
	// keys that fold together are in document order.
	if !sorted {
		c.emitObject(start, c.members[base:], foldy)
	}
	c.members = c.members[:base]
	c.out = append(c.out, '}')
	return nil
}

// emitObject rewrites the members written after out[start] ('{') sorted by
// key, without the closing brace. Members with equal keys keep their
// document order (the sort is stable). When foldy (some key has an
// upper-case ASCII letter or a non-ASCII byte), members whose keys fold
// together are put back in document order too.
func (c *Canon) emitObject(start int, ms []member, foldy bool) {
	sortMembers(c.out, ms)
	if foldy && c.foldCollision(ms) {
		c.orderFoldGroups(ms)
	}
	c.tmp = append(c.tmp[:0], c.out[start:]...)
	c.out = c.out[:start+1]
	for i, m := range ms {
		if i > 0 {
			c.out = append(c.out, ',')
		}
		c.out = append(c.out, c.tmp[m.keyStart-start:m.end-start]...)
	}
}

// keyEqual compares the keys of a and b in buf.
func keyEqual(buf []byte, a, b member) bool {
	if a.prefix != b.prefix {
		return false
	}
	return string(buf[a.keyStart:a.keyEnd]) == string(buf[b.keyStart:b.keyEnd])
}

// foldCollision reports whether two members of ms, sorted by key, have
// distinct keys that may fold to the same case (equal keys do not count:
// the stable sort keeps them in document order already).
// It may err towards true (a hash collision), never towards false: true
// only costs orderFoldGroups, which finds the real groups.
func (c *Canon) foldCollision(ms []member) bool {
	if len(ms) <= 16 && c.asciiKeys(ms) {
		// ASCII keys fold together only if they have one length and
		// their first eight bytes fold together: compare those first.
		up := c.hashes[:0]
		for _, m := range ms {
			up = append(up, upperWord(m.prefix))
		}
		c.hashes = up
		for i := 1; i < len(ms); i++ {
			a := ms[i]
			ka := c.out[a.keyStart:a.keyEnd]
			for j, b := range ms[:i] {
				if up[j] == up[i] && b.keyEnd-b.keyStart == len(ka) {
					kb := c.out[b.keyStart:b.keyEnd]
					if asciiFoldEqual(ka, kb) && string(ka) != string(kb) {
						return true
					}
				}
			}
		}
		return false
	}
	// Hash each distinct key once (equal keys are adjacent).
	hs := c.hashes[:0]
	for i, m := range ms {
		if i+1 < len(ms) && keyEqual(c.out, m, ms[i+1]) {
			continue
		}
		hs = append(hs, c.foldHash(c.out[m.keyStart:m.keyEnd]))
	}
	c.hashes = hs
	if len(hs) <= 16 {
		for i := 1; i < len(hs); i++ {
			for _, h := range hs[:i] {
				if h == hs[i] {
					return true
				}
			}
		}
		return false
	}
	slices.Sort(hs)
	for i := 1; i < len(hs); i++ {
		if hs[i] == hs[i-1] {
			return true
		}
	}
	return false
}

// asciiKeys reports whether the keys of ms are all ASCII.
func (c *Canon) asciiKeys(ms []member) bool {
	var high uint64
	for _, m := range ms {
		high |= m.prefix
		// Loads may overlap bytes already seen: all are the key's.
		for i := m.keyStart + 8; i < m.keyEnd; i += 8 {
			high |= binary.LittleEndian.Uint64(c.out[min(i, m.keyEnd-8):])
		}
	}
	return high&msb == 0
}

// asciiFoldEqual reports whether two ASCII keys of one length are equal
// but for the case of their letters.
func asciiFoldEqual(a, b []byte) bool {
	for len(a) >= 8 {
		if upperWord(binary.LittleEndian.Uint64(a)) != upperWord(binary.LittleEndian.Uint64(b)) {
			return false
		}
		a, b = a[8:], b[8:]
	}
	return upperWord(loadTail(a)) == upperWord(loadTail(b))
}

// orderFoldGroups takes members in sorted order and, for each group of two
// or more whose keys fold to the same case (equal keys included), moves
// the group's members into document order across the positions the group
// holds: {"a":1,"B":2,"A":3} sorts to A,B,a and becomes a,B,A;
// {"a":1,"A":2,"a":3} sorts to A,a,a and becomes a,A,a.
func (c *Canon) orderFoldGroups(ms []member) {
	fb, recs := c.fold[:0], c.frecs[:0]
	for i, m := range ms {
		off := len(fb)
		fb = appendFoldKey(fb, c.out[m.keyStart:m.keyEnd])
		recs = append(recs, member{keyStart: off, keyEnd: len(fb), end: i, prefix: keyPrefix(fb[off:])})
	}
	// Folded keys keep the canonical keys' closing quote, and folding
	// maps escapes to escapes, so they are prefix-free too, as keyLess
	// requires. The sort is stable, so each group's positions (end)
	// stay ascending.
	sortMembers(fb, recs)
	grp := c.grp[:0]
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && keyEqual(fb, recs[i], recs[j]) {
			j++
		}
		if j-i > 1 {
			grp = grp[:0]
			for _, r := range recs[i:j] {
				grp = append(grp, ms[r.end])
			}
			// Members are written to out in document order.
			slices.SortFunc(grp, func(a, b member) int { return cmp.Compare(a.keyStart, b.keyStart) })
			for k, r := range recs[i:j] {
				ms[r.end] = grp[k]
			}
		}
		i = j
	}
	c.fold, c.frecs, c.grp = fb, recs, grp
}

// Case folding of keys. Two keys are in one fold group when they have
// the same number of runes and each pair of runes is related by
// unicode.SimpleFold (encoding/json's rule: "K" U+212A KELVIN SIGN and
// "k", "ſ" U+017F and "s"), by unicode.ToLower (sonic's rule: "İ" U+0130
// and "i") or by unicode.ToUpper, or by a chain of these. foldRune maps
// each rune to one representative of its group: the smallest rune of its
// SimpleFold orbit, except for U+0130 and U+0131, the only two runes whose
// lower or upper case lies outside their orbit (TestFoldRuneCoversDecoders
// checks every rune). The relation is coarser than any one decoder's:
// that only ever keeps more members in document order.

// wordMayFold reports whether any byte of w is non-ASCII or an upper-case
// ASCII letter.
func wordMayFold(w uint64) bool {
	// When no byte exceeds 0x7f the additions never carry: a byte gets its
	// top bit from the first when it is >= 'A', from the second when it is
	// > 'Z'. When one does, w's own top bits answer, whatever the carries.
	return (w|(w+lsb*(0x80-'A'))&^(w+lsb*(0x80-'Z'-1)))&msb != 0
}

// keyMayFold reports whether key, whose first eight bytes (zero-padded)
// are prefix, has a non-ASCII byte or an upper-case ASCII letter.
func keyMayFold(key []byte, prefix uint64) bool {
	if wordMayFold(prefix) {
		return true
	}
	for i := 8; i < len(key); i += 8 {
		// The last load may overlap bytes already seen: all are the key's.
		if wordMayFold(binary.LittleEndian.Uint64(key[min(i, len(key)-8):])) {
			return true
		}
	}
	return false
}

// utf8Ascii reports whether b is all ASCII.
func utf8Ascii(b []byte) bool {
	var high uint64
	for len(b) >= 8 {
		high |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	return (high|loadTail(b))&msb == 0
}

// loadTail loads up to eight bytes little-endian, zero-padded.
func loadTail(b []byte) uint64 {
	var w uint64
	for i, x := range b {
		w |= uint64(x) << (8 * i)
	}
	return w
}

// upperWord upper-cases the ASCII letters in w and leaves other bytes,
// non-ASCII ones included, alone.
func upperWord(w uint64) uint64 {
	a := w &^ msb // no carries below: every byte <= 0x7f
	lower := (a + lsb*(0x80-'a')) &^ (a + lsb*(0x80-'z'-1)) &^ w & msb
	return w &^ (lower >> 2) // clear 0x20
}

func foldRune(r rune) rune {
	if r == 0x130 || r == 0x131 { // İ and ı: ToLower and ToUpper tie them to I and i
		return 'I'
	}
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// appendFoldKey appends the folded form of a canonical key: ASCII letters
// upper-cased, other runes replaced by foldRune. Escapes (\n, \u001f)
// become other escapes (\N, \U001F), which is harmless: they stand for
// characters without case and no raw character folds to a backslash.
func appendFoldKey(dst, key []byte) []byte {
	for i := 0; i < len(key); {
		b := key[i]
		if b < utf8.RuneSelf {
			if 'a' <= b && b <= 'z' {
				b -= 'a' - 'A'
			}
			dst = append(dst, b)
			i++
			continue
		}
		r, n := utf8.DecodeRune(key[i:]) // valid: str checked it
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst
}

// foldHash hashes the folded form of key: equal for keys that fold
// together.
func (c *Canon) foldHash(key []byte) uint64 {
	if !utf8Ascii(key) {
		c.fold = appendFoldKey(c.fold[:0], key)
		key = c.fold
	}
	const m = 0x9e3779b97f4a7c15
	h := uint64(len(key)) * m
	for len(key) >= 8 {
		h = (h ^ upperWord(binary.LittleEndian.Uint64(key))) * m
		h ^= h >> 29
		key = key[8:]
	}
	h = (h ^ upperWord(loadTail(key))) * m
	return h ^ h>>32
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
func (c *Canon) str() error {
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
			return ErrNotJSON
		}
		c.out = append(c.out, src[c.pos:i]...)
		c.pos = i
		if i >= len(src) {
			return ErrNotJSON
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
			return ErrNotJSON
		}
	}
}

func (c *Canon) escape() error {
	if c.pos+1 >= len(c.src) {
		return ErrNotJSON
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
			return ErrNotJSON
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
			return ErrNotJSON // unpaired surrogate
		}
		c.writeRune(r)
	default:
		return ErrNotJSON
	}
	return nil
}

func (c *Canon) hex4() (rune, bool) {
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
func (c *Canon) writeRune(r rune) {
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
func (c *Canon) number() error {
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
		return ErrNotJSON
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
			return ErrNotJSON
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
			return ErrNotJSON
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
		return ErrNotJSON // absurd exponent: hash the raw bytes
	}
	if neg {
		c.out = append(c.out, '-')
	}
	c.out = append(c.out, intPart...)
	c.out = append(c.out, fracPart...)
	if exp != 0 {
		c.out = append(c.out, 'e')
		c.out = strconv.AppendInt(c.out, exp, 10)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
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
