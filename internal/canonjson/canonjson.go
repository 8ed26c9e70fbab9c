// Package canonjson writes JSON in the canonical form that core's
// CanonicalHasher fingerprints: two documents have one canonical form
// only if Go's decoders (encoding/json and sonic) read them alike.
//
// Canonical JSON:
//
//   - insignificant whitespace is dropped;
//   - object members are sorted by key, and a repeated key keeps every
//     member, in document order: Go's decoders do not simply let the last
//     one win. Into a struct or a map, encoding/json and sonic merge
//     repeated objects ({"in":{"x":1},"in":{"y":2}} sets both x and y)
//     and arrays of objects (element by element), and null leaves a
//     number, string, bool or struct field as it was ({"n":5,"n":null}
//     sets n to 5). So {"a":1,"a":2}, {"a":2,"a":1} and {"a":2} are three
//     requests;
//   - likewise, members whose keys fold to the same case ("amount" and
//     "AMOUNT", "k" and "\u212a" KELVIN SIGN) keep their document order
//     relative to each other: encoding/json and sonic match keys to
//     struct fields case-insensitively and the last match wins, so
//     {"amount":1,"AMOUNT":1000} and {"AMOUNT":1000,"amount":1} are
//     different requests. Such a fold group, repeated keys included,
//     takes the positions its members would have in sorted order and
//     fills them in document order. Objects without repeated or
//     fold-colliding keys are canonicalised exactly as if these two rules
//     did not exist, and objects already in order are left as they are;
//   - strings are unescaped and re-encoded one way: raw UTF-8 except '"',
//     '\' and control characters, so "\u0041" and "A" are equal;
//   - strings with invalid UTF-8 or unpaired surrogate escapes are
//     rejected: decoders turn them into U+FFFD, so keys that differ here
//     may be one key to the handler, and their order would matter;
//   - numbers are compared by exact decimal value: 1, 1.0, 10e-1 and 0.1e1
//     are equal, -0 equals 0; no float rounding is involved;
//   - members whose dotted path is ignored are left out. Paths match keys
//     exactly (after unescaping), case-sensitively: see core's
//     WithIgnoredFields for why.
//
// Input that is not one valid JSON value (or nests deeper than MaxDepth)
// is rejected with ErrNotJSON; core then hashes the raw bytes instead.
package canonjson

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
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
	idx                   int // index in document order (while sorting)
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

// keyPrefixAt is keyPrefix(buf[start:end]), with one load when buf has
// eight bytes from start.
func keyPrefixAt(buf []byte, start, end int) uint64 {
	if start+8 > len(buf) {
		return keyPrefix(buf[start:end])
	}
	w := binary.BigEndian.Uint64(buf[start:])
	if n := end - start; n < 8 {
		w &= ^uint64(0) << (8 * (8 - n))
	}
	return w
}

// Canon writes canonical JSON. Its zero value is ready to use; it keeps
// scratch space between calls (dropping what a huge document grew), so
// reuse one, e.g. from a sync.Pool. It is not safe for concurrent use.
type Canon struct {
	acts    []activeSet
	src     []byte
	out     []byte
	tmp     []byte
	members []member
	msort   []member     // merge scratch of sortMembers
	perms   [8]permCache // the last order per depth (mod 8)

	// Streaming (see stream.go).
	w         io.Writer
	hold      int  // out offset of the holder's '{', or -1: output is final
	holdObj   bool // the holder is an object (it may escalate)
	limit     int  // output a holder may buffer
	flushAt   int  // output size at which final output is written
	kbuf      []byte
	omembers  []omember
	oscratch  []member
	otmp      []omember
	memo      []span
	skipStack []int

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
	c.out, c.members, c.hold = dst, c.members[:0], -1
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
	if cap(c.tmp) > 2*keep {
		c.tmp = nil
	}
	if cap(c.kbuf) > keep || cap(c.omembers) > 4096 || cap(c.oscratch) > 4096 || cap(c.otmp) > 4096 {
		c.kbuf, c.omembers, c.oscratch, c.otmp = nil, nil, nil, nil
	}
	if cap(c.memo) > 4096 || cap(c.skipStack) > 4096 {
		c.memo, c.skipStack = nil, nil
	}
	if cap(c.members) > 4096 {
		c.members = nil
	}
	if cap(c.msort) > 4096 {
		c.msort = nil
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
	c.src = src
	i := skipWS(src, 0)
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
	out, i, err := c.value(c.out, i, 0, act)
	c.out = out
	if err != nil {
		return err
	}
	if i = skipWS(src, i); i != len(src) {
		return ErrNotJSON
	}
	return nil
}

// The scanner's functions take the output buffer and the input position
// and return both, so that they stay in registers.

// skipWS returns the position of the first byte at or after i that is not
// insignificant whitespace.
func skipWS(src []byte, i int) int {
	if i < len(src) && src[i] > ' ' {
		return i // the common case: no whitespace at all
	}
	return skipWSSlow(src, i)
}

func skipWSSlow(src []byte, i int) int {
	for i < len(src) {
		switch src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (c *Canon) value(out []byte, i, depth int, act *activeSet) ([]byte, int, error) {
	src := c.src
	if i >= len(src) {
		return out, i, ErrNotJSON
	}
	switch ch := src[i]; {
	case ch == '"':
		return str(out, src, i)
	case ch == '{':
		if depth >= MaxDepth {
			return out, i, ErrNotJSON
		}
		return c.object(out, i, depth+1, act)
	case ch == '[':
		if depth >= MaxDepth {
			return out, i, ErrNotJSON
		}
		return c.array(out, i, depth+1, act)
	case ch == '-' || ('0' <= ch && ch <= '9'):
		return number(out, src, i)
	case ch == 't':
		return literal(out, src, i, "true")
	case ch == 'f':
		return literal(out, src, i, "false")
	case ch == 'n':
		return literal(out, src, i, "null")
	}
	return out, i, ErrNotJSON
}

func literal(out, src []byte, i int, lit string) ([]byte, int, error) {
	if len(src)-i < len(lit) || string(src[i:i+len(lit)]) != lit {
		return out, i, ErrNotJSON
	}
	return append(out, lit...), i + len(lit), nil
}

func (c *Canon) array(out []byte, i, depth int, act *activeSet) ([]byte, int, error) {
	src := c.src
	i++ // [
	out = append(out, '[')
	var next *activeSet
	if act != nil {
		next = &c.acts[depth]
		*next, _ = act.step("", true)
	}
	i = skipWS(src, i)
	if i < len(src) && src[i] == ']' {
		return append(out, ']'), i + 1, nil
	}
	var err error
	for {
		i = skipWS(src, i)
		if out, i, err = c.value(out, i, depth, next); err != nil {
			return out, i, err
		}
		if c.hold < 0 {
			if c.w != nil && len(out) >= c.flushAt {
				out = c.flush(out)
			}
		} else if c.overLimit(out) {
			return out, i, errEscalate
		}
		i = skipWS(src, i)
		if i >= len(src) {
			return out, i, ErrNotJSON
		}
		switch src[i] {
		case ',':
			i++
			out = append(out, ',')
		case ']':
			return append(out, ']'), i + 1, nil
		default:
			return out, i, ErrNotJSON
		}
	}
}

func (c *Canon) object(out []byte, i, depth int, act *activeSet) ([]byte, int, error) {
	if c.w == nil || c.hold >= 0 {
		return c.bufferedObject(out, i, depth, act)
	}
	// Output is final here: this object holds it until it closes, or
	// until it grows too large and is redone in ordered mode.
	start := len(out)
	c.hold, c.holdObj = start, true
	out, j, err := c.bufferedObject(out, i, depth, act)
	c.hold, c.holdObj = -1, false
	if err == errEscalate {
		c.members = c.members[:0] // no other object was open
		return c.orderedObject(out[:start], i, depth, act)
	}
	return out, j, err
}

// bufferedObject canonicalises the object at src[i] in out.
func (c *Canon) bufferedObject(out []byte, i, depth int, act *activeSet) ([]byte, int, error) {
	src := c.src
	i++ // {
	start := len(out)
	out = append(out, '{')
	base := len(c.members)
	i = skipWS(src, i)
	if i < len(src) && src[i] == '}' {
		return append(out, '}'), i + 1, nil
	}
	// Members are written in input order as "key":value, separated by
	// commas; most objects then need no second pass. Objects whose keys
	// are out of order are rewritten once, sorted.
	sorted := true
	// foldy: some key has an upper-case ASCII letter or a non-ASCII byte.
	// Without one, no two keys can fold together unless they are equal.
	foldy := false
	var err error
	for {
		i = skipWS(src, i)
		if i >= len(src) || src[i] != '"' {
			return out, i, ErrNotJSON
		}
		memberStart := len(out)
		if len(c.members) > base {
			out = append(out, ',')
		}
		keyStart := len(out)
		if out, i, err = str(out, src, i); err != nil {
			return out, i, err
		}
		keyEnd := len(out)
		i = skipWS(src, i)
		if i >= len(src) || src[i] != ':' {
			return out, i, ErrNotJSON
		}
		i = skipWS(src, i+1)
		out = append(out, ':')
		var next *activeSet
		skip := false
		if act != nil {
			next = &c.acts[depth]
			*next, skip = act.step(string(out[keyStart+1:keyEnd-1]), false)
		}
		if out, i, err = c.value(out, i, depth, next); err != nil {
			return out, i, err
		}
		if c.overLimit(out) {
			return out, i, errEscalate
		}
		if skip {
			out = out[:memberStart]
		} else {
			m := member{keyStart: keyStart, keyEnd: keyEnd, end: len(out), prefix: keyPrefixAt(out, keyStart, keyEnd)}
			if n := len(c.members); n > base && keyLess(out, m, c.members[n-1]) {
				sorted = false
			}
			if !foldy {
				foldy = keyMayFold(out[keyStart:keyEnd], m.prefix)
			}
			c.members = append(c.members, m)
		}
		i = skipWS(src, i)
		if i >= len(src) {
			return out, i, ErrNotJSON
		}
		if src[i] == ',' {
			i++
			continue
		}
		if src[i] != '}' {
			return out, i, ErrNotJSON
		}
		i++
		break
	}
	// An object already in order needs nothing more: repeated keys and
	// keys that fold together are in document order.
	if !sorted {
		out = c.emitObject(out, start, depth, c.members[base:], foldy)
	}
	c.members = c.members[:base]
	return append(out, '}'), i, nil
}

// emitObject rewrites the members written after out[start] ('{') sorted by
// key, without the closing brace. Members with equal keys keep their
// document order (the sort is stable). When foldy (some key has an
// upper-case ASCII letter or a non-ASCII byte), members whose keys fold
// together are put back in document order too.
//
// The order depends only on the sequence of keys, so it is remembered per
// depth: the next object at this depth with the same keys in the same
// order (the next line item of an array, typically) reuses it without
// sorting.
func (c *Canon) emitObject(out []byte, start, depth int, ms []member, foldy bool) []byte {
	pc := &c.perms[depth&(len(c.perms)-1)]
	hit := pc.match(out, ms)
	if !hit {
		c.order(out, ms, foldy)
		if len(ms) <= maxPermMembers {
			pc.store(out, ms)
		}
	}
	c.tmp = append(c.tmp[:0], out[start:]...)
	tmp := c.tmp
	out = out[:start+1]
	for k := range ms {
		if k > 0 {
			out = append(out, ',')
		}
		m := ms[k]
		if hit {
			m = ms[pc.perm[k]]
		}
		out = append(out, tmp[m.keyStart-start:m.end-start]...)
	}
	return out
}

// order sorts ms, members in document order, into canonical order,
// setting each one's idx to its index in document order.
func (c *Canon) order(out []byte, ms []member, foldy bool) {
	for k := range ms {
		ms[k].idx = k
	}
	sortMembers(out, ms, &c.msort)
	if foldy && c.foldCollision(out, ms) {
		c.orderFoldGroups(out, ms)
	}
}

// permCache remembers the canonical order of an object's members by the
// sequence of its keys.
type permCache struct {
	prefixes []uint64 // of each key in document order
	ends     []int    // of each key in keys
	keys     []byte   // the keys, when some is longer than eight bytes
	perm     []int    // document index of each member in canonical order
}

// maxPermMembers bounds the objects whose order is remembered.
const maxPermMembers = 64

// match reports whether ms (in document order) has the keys remembered,
// in the same order.
func (p *permCache) match(out []byte, ms []member) bool {
	if len(ms) != len(p.prefixes) {
		return false
	}
	off := 0
	for k, m := range ms {
		if m.prefix != p.prefixes[k] {
			return false
		}
		end := p.ends[k]
		n := m.keyEnd - m.keyStart
		if n != end-off || (n > 8 && string(out[m.keyStart:m.keyEnd]) != string(p.keys[off:end])) {
			return false
		}
		off = end
	}
	return true
}

// store remembers the order of ms, sorted by order.
func (p *permCache) store(out []byte, ms []member) {
	p.prefixes, p.ends, p.keys, p.perm = p.prefixes[:0], p.ends[:0], p.keys[:0], p.perm[:0]
	for range ms {
		p.perm = append(p.perm, 0)
		p.prefixes = append(p.prefixes, 0)
		p.ends = append(p.ends, 0)
	}
	long := false
	for k, m := range ms {
		p.perm[k] = m.idx
		p.prefixes[m.idx] = m.prefix
		p.ends[m.idx] = m.keyEnd - m.keyStart
		long = long || m.keyEnd-m.keyStart > 8
	}
	off := 0
	for k, n := range p.ends {
		off += n
		p.ends[k] = off
	}
	if long {
		p.keys = append(p.keys, make([]byte, off)...)
		for _, m := range ms {
			end := p.ends[m.idx]
			copy(p.keys[end-(m.keyEnd-m.keyStart):end], out[m.keyStart:m.keyEnd])
		}
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
func (c *Canon) foldCollision(buf []byte, ms []member) bool {
	if len(ms) <= 16 && asciiKeys(buf, ms) {
		// ASCII keys fold together only if they have one length and
		// their first eight bytes fold together: compare those first.
		up := c.hashes[:0]
		for _, m := range ms {
			up = append(up, upperWord(m.prefix))
		}
		c.hashes = up
		for i := 1; i < len(ms); i++ {
			a := ms[i]
			ka := buf[a.keyStart:a.keyEnd]
			for j, b := range ms[:i] {
				if up[j] == up[i] && b.keyEnd-b.keyStart == len(ka) {
					kb := buf[b.keyStart:b.keyEnd]
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
		if i+1 < len(ms) && keyEqual(buf, m, ms[i+1]) {
			continue
		}
		hs = append(hs, c.foldHash(buf[m.keyStart:m.keyEnd]))
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
func asciiKeys(buf []byte, ms []member) bool {
	var high uint64
	for _, m := range ms {
		high |= m.prefix
		// Loads may overlap bytes already seen: all are the key's.
		for i := m.keyStart + 8; i < m.keyEnd; i += 8 {
			high |= binary.LittleEndian.Uint64(buf[min(i, m.keyEnd-8):])
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
func (c *Canon) orderFoldGroups(buf []byte, ms []member) {
	fb, recs := c.fold[:0], c.frecs[:0]
	for i, m := range ms {
		off := len(fb)
		fb = appendFoldKey(fb, buf[m.keyStart:m.keyEnd])
		recs = append(recs, member{keyStart: off, keyEnd: len(fb), end: i, prefix: keyPrefix(fb[off:])})
	}
	// Folded keys keep the canonical keys' closing quote, and folding
	// maps escapes to escapes, so they are prefix-free too, as keyLess
	// requires. The sort is stable, so each group's positions (end)
	// stay ascending.
	sortMembers(fb, recs, &c.msort)
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
func sortMembers(buf []byte, ms []member, scratch *[]member) {
	if len(ms) <= 16 {
		for i := 1; i < len(ms); i++ {
			for j := i; j > 0 && keyLess(buf, ms[j], ms[j-1]); j-- {
				ms[j], ms[j-1] = ms[j-1], ms[j]
			}
		}
		return
	}
	mid := len(ms) / 2
	sortMembers(buf, ms[:mid], scratch)
	sortMembers(buf, ms[mid:], scratch)
	if !keyLess(buf, ms[mid], ms[mid-1]) {
		return
	}
	merged := (*scratch)[:0]
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
	*scratch = merged
}

// str copies the JSON string at src[i] to out in canonical form.
func str(out, src []byte, i int) ([]byte, int, error) {
	i++ // opening quote
	out = append(out, '"')
	for {
		// Copy the longest run that needs no attention in one append,
		// testing eight bytes at a time.
		// The high bits of everything scanned are or-ed together, so that
		// pure-ASCII runs (most of them) skip UTF-8 validation.
		j := i
		var high uint64
		// Long runs (text): 32 bytes per test.
		for j+32 <= len(src) {
			p := (*[32]byte)(src[j : j+32])
			w0, w1, w2, w3 := le64(p[0:8]), le64(p[8:16]), le64(p[16:24]), le64(p[24:32])
			if attention(w0)|attention(w1)|attention(w2)|attention(w3) != 0 {
				break // the word loop below finds the byte
			}
			high |= w0 | w1 | w2 | w3
			j += 32
		}
		for j+8 <= len(src) {
			w := binary.LittleEndian.Uint64(src[j:])
			if m := attention(w); m != 0 {
				// The lowest flagged byte is exact: false positives
				// only ever sit above a true one.
				n := bits.TrailingZeros64(m) >> 3
				high |= w & (1<<(8*n) - 1)
				j += n
				break
			}
			high |= w
			j += 8
		}
		for j < len(src) {
			ch := src[j]
			if ch == '"' || ch == '\\' || ch < 0x20 {
				break
			}
			high |= uint64(ch)
			j++
		}
		// Runs end only at ASCII bytes, so no valid rune straddles two.
		if high&msb != 0 && !utf8.Valid(src[i:j]) {
			return out, j, ErrNotJSON
		}
		if n, l := j-i, len(out); n <= 8 && i+8 <= len(src) && l+8 <= cap(out) {
			// Short runs (keys, mostly): one word, not a memmove call.
			out = out[:l+8]
			binary.LittleEndian.PutUint64(out[l:], binary.LittleEndian.Uint64(src[i:]))
			out = out[:l+n]
		} else {
			out = append(out, src[i:j]...)
		}
		i = j
		if i >= len(src) {
			return out, i, ErrNotJSON
		}
		switch src[i] {
		case '"':
			return append(out, '"'), i + 1, nil
		case '\\':
			var err error
			if out, i, err = escape(out, src, i); err != nil {
				return out, i, err
			}
		default: // raw control character: invalid JSON
			return out, i, ErrNotJSON
		}
	}
}

// escape writes the escape sequence at src[i] ('\\') in canonical form.
func escape(out, src []byte, i int) ([]byte, int, error) {
	if i+1 >= len(src) {
		return out, i, ErrNotJSON
	}
	e := src[i+1]
	i += 2
	switch e {
	case '"', '\\':
		out = append(out, '\\', e)
	case '/':
		out = append(out, '/')
	case 'b', 'f', 'n', 'r', 't':
		out = append(out, '\\', e)
	case 'u':
		r, ok := hex4(src, i)
		if !ok {
			return out, i, ErrNotJSON
		}
		i += 4
		if 0xD800 <= r && r < 0xDC00 && i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
			if lo, ok := hex4(src, i+2); ok && 0xDC00 <= lo && lo < 0xE000 {
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
				i += 6
			}
		}
		if 0xD800 <= r && r < 0xE000 {
			return out, i, ErrNotJSON // unpaired surrogate
		}
		out = writeRune(out, r)
	default:
		return out, i, ErrNotJSON
	}
	return out, i, nil
}

// hex4 reads the four hex digits at src[i:].
func hex4(src []byte, i int) (rune, bool) {
	if i+4 > len(src) {
		return 0, false
	}
	var r rune
	for _, h := range src[i : i+4] {
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
	return r, true
}

const hexDigits = "0123456789abcdef"

// writeRune writes r as the canonical string content: escapes for the
// characters JSON requires, raw UTF-8 for everything else. (Lone
// surrogates never get here: escape rejects them.)
func writeRune(out []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(out, '\\', byte(r))
	case r < 0x20:
		switch r {
		case '\b':
			return append(out, '\\', 'b')
		case '\f':
			return append(out, '\\', 'f')
		case '\n':
			return append(out, '\\', 'n')
		case '\r':
			return append(out, '\\', 'r')
		case '\t':
			return append(out, '\\', 't')
		}
		return append(out, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
	case 0xD800 <= r && r < 0xE000:
		return append(out, '\\', 'u', hexDigits[r>>12&15], hexDigits[r>>8&15], hexDigits[r>>4&15], hexDigits[r&15])
	}
	return utf8.AppendRune(out, r)
}

// number writes the JSON number at src[i] as its exact decimal value:
// sign, the significant digits without leading or trailing zeros, and a
// decimal exponent ("e-1") when it is not zero. Zero of any form is "0".
func number(out, src []byte, i int) ([]byte, int, error) {
	start := i
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
		return out, i, ErrNotJSON
	}
	// Fast path: a plain integer without trailing zeros is already canonical.
	if (i >= len(src) || (src[i] != '.' && src[i] != 'e' && src[i] != 'E')) && src[intEnd-1] != '0' {
		return append(out, src[start:intEnd]...), i, nil
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
			return out, i, ErrNotJSON
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
			return out, i, ErrNotJSON
		}
		if expNeg {
			exp = -exp
		}
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
		return append(out, '0'), i, nil
	}
	if exp > maxCanonExp || exp < -maxCanonExp {
		return out, i, ErrNotJSON // absurd exponent: hash the raw bytes
	}
	if neg {
		out = append(out, '-')
	}
	out = append(out, intPart...)
	out = append(out, fracPart...)
	switch {
	case exp == 0:
	case -10 < exp && exp < 0: // prices: "e-2"
		out = append(out, 'e', '-', byte('0'-exp))
	case 0 < exp && exp < 10:
		out = append(out, 'e', byte('0'+exp))
	default:
		out = append(out, 'e')
		out = strconv.AppendInt(out, exp, 10)
	}
	return out, i, nil
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// attention flags (with its top bit) each byte of w that is '"', '\\' or
// below 0x20 (the classic SWAR zero-byte and less-than tests). Bytes >=
// 0x80 never match: the tests exclude them with ^w. Bytes above a flagged
// one may be flagged falsely (borrows); the lowest flagged byte is exact.
func attention(w uint64) uint64 {
	quote := w ^ (lsb * '"')
	slash := w ^ (lsb * '\\')
	return ((quote-lsb)&^quote | (slash-lsb)&^slash | (w-lsb*0x20)&^w) & msb
}

// needsAttention reports whether any byte of w is '"', '\\' or below 0x20.
func needsAttention(w uint64) bool { return attention(w) != 0 }
