package canonjson

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
	"slices"
)

// Streaming: Canon.Stream writes the canonical form to an io.Writer (a
// hash) in chunks instead of materialising it, so that a large body costs
// neither a buffer of its size nor the copies of growing one.
//
// Output is final, and may be written, wherever no object is open whose
// members might still need reordering. An object that starts at such a
// point (the "holder") is buffered until it closes, as Append does, and
// its nested objects with it. When a holder's buffered output exceeds
// c.limit it is abandoned and redone in ordered mode (orderedObject):
// a first pass reads its keys and skips over their values, the keys are
// sorted, and the values are then canonicalised in that order, straight
// to the output, each at a point where output is final again. So only
// the keys of large objects and at most about c.limit bytes of output
// are ever held, whatever the body's size.
//
// Both modes produce the same bytes: ordered mode sorts the same keys
// with the same stable sort and fold grouping.

// errEscalate unwinds the scanner to the holder object, whose buffered
// output grew past the limit.
var errEscalate = errors.New("canonjson: holder too large")

const (
	// flushAt is the output size at which final output is written.
	flushAt = 32 << 10
	// streamLimit is c.limit for bodies over bufferedMax: how much output
	// a holder may buffer before it is redone in ordered mode.
	streamLimit = 16 << 10
	// bufferedMax is the largest body canonicalised wholly in memory (one
	// buffer, sized to the body): small enough for the pool to keep,
	// large enough that typical bodies never pay for a skip pass.
	bufferedMax = 256 << 10
)

// span is a container's byte range in the source, remembered by skipValue
// for containers of at least c.limit bytes so that nested ordered objects
// do not skip them again.
type span struct{ start, end int }

// ordered-mode member: key range in c.kbuf, value range in the source.
type omember struct {
	member
	vstart, vend int
	skip         bool // an ignored member
}

// Stream writes the canonical form of src, preceded by dst (a prefix, such
// as a hash's framing), to w, leaving out the members that ig names. It
// uses dst's capacity as its buffer and returns it, emptied, for reuse.
// When src is not canonicalisable it returns ErrNotJSON; w may then have
// received part of the output (reset it). Write errors are not reported:
// w is meant to be a hash, whose Write never fails.
func (c *Canon) Stream(w io.Writer, dst, src []byte, ig *Ignore) ([]byte, error) {
	if len(src) > bufferedMax {
		return c.stream(w, dst, src, ig, streamLimit, flushAt)
	}
	return c.stream(w, dst, src, ig, int(^uint(0)>>1), flushAt)
}

// stream is Stream with the holder limit and the flush size as parameters
// (tests make them tiny).
func (c *Canon) stream(w io.Writer, dst, src []byte, ig *Ignore, limit, flushAt int) ([]byte, error) {
	c.w, c.hold, c.holdObj, c.limit, c.flushAt = w, -1, false, limit, flushAt
	c.members, c.omembers, c.kbuf, c.memo = c.members[:0], c.omembers[:0], c.kbuf[:0], c.memo[:0]
	if len(src) > bufferedMax {
		if need := len(dst) + flushAt + 2*limit; cap(dst) < need {
			dst = slices.Grow(dst, need-len(dst))
		}
	} else {
		// Canonical JSON is rarely longer than its source: size the
		// buffer once rather than grow it by doubling.
		if need := len(dst) + len(src) + len(src)/8 + 64; cap(dst) < need {
			dst = slices.Grow(dst, need-len(dst))
		}
	}
	c.out = dst
	err := c.run(src, ig)
	out := c.out
	if err == nil && len(out) > 0 {
		w.Write(out)
	}
	c.out, c.src, c.w = nil, nil, nil
	c.shrink()
	return out[:0], err
}

// flush writes the output, final at this point, and empties the buffer.
func (c *Canon) flush(out []byte) []byte {
	c.w.Write(out)
	return out[:0]
}

// overLimit reports whether the holder's buffered output has grown past
// c.limit: the scanner then unwinds to it with errEscalate.
func (c *Canon) overLimit(out []byte) bool {
	return c.hold >= 0 && c.holdObj && len(out)-c.hold > c.limit
}

// orderedObject canonicalises the object at src[i] in ordered mode (see
// above). It is called with output final (c.hold < 0).
func (c *Canon) orderedObject(out []byte, i, depth int, act *activeSet) ([]byte, int, error) {
	src := c.src
	i++ // {
	base := len(c.omembers)
	kbase := len(c.kbuf)
	defer func() { c.omembers, c.kbuf = c.omembers[:base], c.kbuf[:kbase] }()
	// Pass 1: keys and value ranges. As in bufferedObject, ignored members
	// take no part in ordering; last is the last one that does.
	sorted, foldy, last := true, false, -1
	i = skipWS(src, i)
	if i < len(src) && src[i] == '}' {
		return append(out, '{', '}'), i + 1, nil
	}
	var err error
	for {
		i = skipWS(src, i)
		if i >= len(src) || src[i] != '"' {
			return out, i, ErrNotJSON
		}
		keyStart := len(c.kbuf)
		if c.kbuf, i, err = str(c.kbuf, src, i); err != nil {
			return out, i, err
		}
		keyEnd := len(c.kbuf)
		i = skipWS(src, i)
		if i >= len(src) || src[i] != ':' {
			return out, i, ErrNotJSON
		}
		i = skipWS(src, i+1)
		vstart := i
		if i, err = c.skipValue(src, i); err != nil {
			return out, i, err
		}
		m := omember{member: member{keyStart: keyStart, keyEnd: keyEnd, prefix: keyPrefix(c.kbuf[keyStart:keyEnd])}, vstart: vstart, vend: i}
		if act != nil {
			_, m.skip = act.step(string(c.kbuf[keyStart+1:keyEnd-1]), false)
		}
		if !m.skip {
			if last >= 0 && keyLess(c.kbuf, m.member, c.omembers[last].member) {
				sorted = false
			}
			if !foldy {
				foldy = keyMayFold(c.kbuf[keyStart:keyEnd], m.prefix)
			}
			last = len(c.omembers)
		}
		c.omembers = append(c.omembers, m)
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
	end := i
	// Order the members as object/emitObject would.
	// Ignored members are still checked (their values must be valid
	// JSON): canonicalised into the buffer and dropped. Then they are
	// left out of oms.
	oms := c.omembers[base:]
	kept := oms[:0]
	for _, m := range oms {
		if !m.skip {
			kept = append(kept, m)
			continue
		}
		var next *activeSet
		if act != nil {
			next = &c.acts[depth]
			*next, _ = act.step(string(c.kbuf[m.keyStart+1:m.keyEnd-1]), false)
		}
		mark := len(out)
		c.hold, c.holdObj = mark, false
		var j int
		out, j, err = c.value(out, m.vstart, depth, next)
		out, c.hold = out[:mark], -1
		if err != nil {
			return out, j, err
		}
		if j != m.vend {
			return out, j, ErrNotJSON
		}
	}
	oms = kept
	if !sorted {
		ms := c.oscratch[:0]
		for k := range oms {
			ms = append(ms, oms[k].member)
			ms[k].end = k // position in oms
		}
		c.order(c.kbuf, ms, foldy)
		tmp := c.otmp[:0]
		for _, m := range ms {
			tmp = append(tmp, oms[m.end])
		}
		copy(oms, tmp)
		c.oscratch, c.otmp = ms, tmp
	}
	// Pass 2: values in canonical order.
	out = append(out, '{')
	for k := range oms {
		m := oms[k]
		key := c.kbuf[m.keyStart:m.keyEnd]
		var next *activeSet
		if act != nil {
			next = &c.acts[depth]
			*next, _ = act.step(string(key[1:len(key)-1]), false)
		}
		if k > 0 {
			out = append(out, ',')
		}
		out = append(out, key...)
		out = append(out, ':')
		var j int
		out, j, err = c.value(out, m.vstart, depth, next)
		if err != nil {
			return out, j, err
		}
		if j != m.vend {
			return out, j, ErrNotJSON // the skip pass disagreed: invalid
		}
		if len(out) >= c.flushAt {
			out = c.flush(out)
		}
	}
	return append(out, '}'), end, nil
}

// skipValue returns the end of the JSON value at src[i] without checking
// it beyond what finding its end takes; the value is checked when it is
// canonicalised. An error means src is not valid JSON.
func (c *Canon) skipValue(src []byte, i int) (int, error) {
	if i >= len(src) {
		return i, ErrNotJSON
	}
	switch src[i] {
	case '"':
		return skipString(src, i)
	case '{', '[':
		return c.skipContainer(src, i)
	}
	j := i
	for j < len(src) {
		ch := src[j]
		if ch == ',' || ch == '}' || ch == ']' || ch <= ' ' {
			break
		}
		j++
	}
	if j == i {
		return i, ErrNotJSON
	}
	return j, nil
}

// skipString returns the position after the string at src[i].
func skipString(src []byte, i int) (int, error) {
	i++
	for {
		for i+32 <= len(src) {
			p := (*[32]byte)(src[i : i+32])
			if quoteOrSlash(le64(p[0:8]))|quoteOrSlash(le64(p[8:16]))|quoteOrSlash(le64(p[16:24]))|quoteOrSlash(le64(p[24:32])) != 0 {
				break // the word loop finds the byte
			}
			i += 32
		}
		for i+8 <= len(src) {
			if m := quoteOrSlash(loadWord(src, i)); m != 0 {
				i += trailingBytes(m)
				break
			}
			i += 8
		}
		if i >= len(src) {
			return i, ErrNotJSON
		}
		switch src[i] {
		case '"':
			return i + 1, nil
		case '\\':
			i += 2
		default:
			i++
		}
	}
}

// skipContainer returns the position after the array or object at src[i].
// Brackets are matched by depth only; canonicalising checks them.
func (c *Canon) skipContainer(src []byte, i int) (int, error) {
	stack := c.skipStack[:0]
	defer func() { c.skipStack = stack[:0] }()
	for i < len(src) {
		// Jump to the next quote or bracket, 32 then eight bytes at a
		// time.
		for i+32 <= len(src) {
			p := (*[32]byte)(src[i : i+32])
			if structural(le64(p[0:8]))|structural(le64(p[8:16]))|structural(le64(p[16:24]))|structural(le64(p[24:32])) != 0 {
				break
			}
			i += 32
		}
		for i+8 <= len(src) {
			if m := structural(loadWord(src, i)); m != 0 {
				i += trailingBytes(m)
				break
			}
			i += 8
		}
		if i >= len(src) {
			break
		}
		switch src[i] {
		case '"':
			var err error
			if i, err = skipString(src, i); err != nil {
				return i, err
			}
			continue
		case '{', '[':
			if end, ok := c.memoEnd(i); ok {
				if len(stack) == 0 {
					return end, nil
				}
				i = end
				continue
			}
			if len(stack) > MaxDepth {
				return i, ErrNotJSON // too deep to canonicalise anyway
			}
			stack = append(stack, i)
		case '}', ']':
			if len(stack) == 0 {
				return i, ErrNotJSON
			}
			s := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if i+1-s >= c.limit {
				c.remember(span{s, i + 1})
			}
			if len(stack) == 0 {
				return i + 1, nil
			}
		}
		i++
	}
	return i, ErrNotJSON
}

func (c *Canon) memoEnd(start int) (int, bool) {
	if len(c.memo) == 0 {
		return 0, false
	}
	k, ok := slices.BinarySearchFunc(c.memo, start, func(s span, t int) int { return s.start - t })
	if !ok {
		return 0, false
	}
	return c.memo[k].end, true
}

func (c *Canon) remember(s span) {
	k, ok := slices.BinarySearchFunc(c.memo, s.start, func(x span, t int) int { return x.start - t })
	if !ok {
		c.memo = slices.Insert(c.memo, k, s)
	}
}

func loadWord(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }

// trailingBytes is the index of the lowest flagged byte of an attention
// mask.
func trailingBytes(m uint64) int { return bits.TrailingZeros64(m) >> 3 }

// zeroBytes flags (with its top bit) each zero byte of x; bytes above a
// flagged one may be flagged falsely, the lowest flagged byte is exact.
func zeroBytes(x uint64) uint64 { return (x - lsb) &^ x & msb }

// quoteOrSlash flags the bytes of w that are '"' or '\\'.
func quoteOrSlash(w uint64) uint64 {
	return zeroBytes(w^(lsb*'"')) | zeroBytes(w^(lsb*'\\'))
}

// structural flags the bytes of w that are '"', '[', ']', '{' or '}'.
// Setting bit 0x20 maps '[' and ']' (and only them) onto '{' and '}'.
func structural(w uint64) uint64 {
	v := w | lsb*0x20
	return zeroBytes(w^(lsb*'"')) | zeroBytes(v^(lsb*'{')) | zeroBytes(v^(lsb*'}'))
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }
