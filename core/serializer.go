package core

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"unsafe"
)

// ResponseSerializer encodes responses for the store and decodes them for
// replay. Decode must reject, never panic on, malformed input.
type ResponseSerializer interface {
	// Encode appends the encoding of r to dst.
	Encode(dst []byte, r *Response) ([]byte, error)
	Decode(data []byte) (Response, error)
}

// BinarySerializer is the default, compact encoding: a format version byte
// followed by the status, the headers and the body, all length-prefixed.
type BinarySerializer struct{}

// binaryFormatVersion is the first byte of every encoded response; a
// reader that meets another version rejects the record rather than
// replaying something it does not understand.
const binaryFormatVersion = 1

// Encode implements ResponseSerializer.
func (BinarySerializer) Encode(dst []byte, r *Response) ([]byte, error) {
	return append(encodeBinaryHead(dst, r.Status, r.Header, nil, nil, len(r.Body)), r.Body...), nil
}

// encodeBinaryHead encodes a response but for its body, which follows
// the head as it returns it (see payloadFrame). With rules, only the headers they
// store are written (see headerRules.stored), so the common case needs no
// filtered copy of the header map. The header count is written before
// the headers: with fewer than 128 headers its one byte is patched after
// one pass over the map, else the map is counted first.
func encodeBinaryHead(dst []byte, status int, h map[string][]string, rules *headerRules, outer *HeaderSnapshot, bodyLen int) []byte {
	dst = append(dst, binaryFormatVersion)
	dst = binary.AppendUvarint(dst, uint64(status))
	at := -1
	if n := len(h); rules == nil || n >= 0x80 {
		if rules != nil {
			for name, vals := range h {
				if !rules.stored(name, vals, outer) {
					n--
				}
			}
		}
		dst = binary.AppendUvarint(dst, uint64(n))
	} else {
		at = len(dst)
		dst = append(dst, 0)
	}
	n := 0
	for name, vals := range h {
		if rules != nil && !rules.stored(name, vals, outer) {
			continue
		}
		n++
		dst = appendBytes(dst, name)
		dst = binary.AppendUvarint(dst, uint64(len(vals)))
		for _, v := range vals {
			dst = appendBytes(dst, v)
		}
	}
	if at >= 0 {
		dst[at] = byte(n)
	}
	return binary.AppendUvarint(dst, uint64(bodyLen))
}

// encodeBinary encodes a response: its head, then body.
func encodeBinary(dst []byte, status int, h map[string][]string, rules *headerRules, outer *HeaderSnapshot, body []byte) []byte {
	return append(encodeBinaryHead(dst, status, h, rules, outer, len(body)), body...)
}

// encodeLinesHead is encodeBinaryHead for header lines grouped by name
// (see groupLines), as fasthttp keeps them.
func encodeLinesHead(dst []byte, status int, lines []HeaderLine, rules *headerRules, outer *HeaderSnapshot, bodyLen int) []byte {
	dst = append(dst, binaryFormatVersion)
	dst = binary.AppendUvarint(dst, uint64(status))
	at := len(dst)
	dst = binary.AppendUvarint(dst, uint64(len(lines))) // patched below
	width := len(dst) - at
	var scratch [8]string
	n := 0
	for rest := lines; len(rest) > 0; {
		name, k, vals := lineValues(rest, scratch[:0])
		rest = rest[k:]
		if !rules.stored(name, vals, outer) {
			continue
		}
		n++
		dst = appendBytes(dst, name)
		dst = binary.AppendUvarint(dst, uint64(len(vals)))
		for _, v := range vals {
			dst = appendBytes(dst, v)
		}
	}
	putUvarintWidth(dst[at:at+width], uint64(n))
	return binary.AppendUvarint(dst, uint64(bodyLen))
}

// putUvarintWidth writes v, at most the value that was there, as a
// uvarint of exactly len(b) bytes (continuation bits padding it out, which
// binary.Uvarint reads back as the same value).
func putUvarintWidth(b []byte, v uint64) {
	for i := range b {
		c := byte(v & 0x7f)
		v >>= 7
		if i < len(b)-1 {
			c |= 0x80
		}
		b[i] = c
	}
}

func appendBytes(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// Decode implements ResponseSerializer. The returned body aliases data.
func (BinarySerializer) Decode(data []byte) (Response, error) {
	d := decoder{b: data}
	if v := d.byte(); v != binaryFormatVersion {
		return Response{}, fmt.Errorf("%w: format version %d", ErrCorruptRecord, v)
	}
	status := d.uvarint()
	n := d.uvarint()
	if d.err != nil || status < 100 || status > 999 || n > uint64(len(d.b)) {
		return Response{}, fmt.Errorf("%w: bad header block", ErrCorruptRecord)
	}
	r := Response{Status: int(status)}
	if n > 0 {
		r.Header = make(http.Header, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.str()
		nv := d.uvarint()
		if nv > uint64(len(d.b)) {
			d.err = ErrCorruptRecord
			break
		}
		vals := make([]string, 0, nv)
		for j := uint64(0); j < nv && d.err == nil; j++ {
			vals = append(vals, d.str())
		}
		r.Header[name] = vals
	}
	bl := d.uvarint()
	if d.err != nil || bl != uint64(len(d.b)) {
		return Response{}, fmt.Errorf("%w: bad body", ErrCorruptRecord)
	}
	r.Body = d.b
	return r, nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = ErrCorruptRecord
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = ErrCorruptRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = ErrCorruptRecord
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// binaryReplay is a stored response in the built-in encoding, checked
// but not copied: its header names and values are read straight from
// the payload when the replay is written (see Engine.replay).
type binaryReplay struct {
	status  int
	headers []byte // the header block: n entries of name, count, values
	n       int    // header entries in the block
	values  int    // values of the replayable entries
	body    []byte
}

// parseBinary checks data, an encoded response, completely (so that a
// corrupt record is refused before any header is written) and counts the
// values of the headers that rules let through, without copying anything.
func parseBinary(data []byte, rules *headerRules) (binaryReplay, error) {
	d := decoder{b: data}
	if v := d.byte(); v != binaryFormatVersion {
		return binaryReplay{}, fmt.Errorf("%w: format version %d", ErrCorruptRecord, v)
	}
	status := d.uvarint()
	n := d.uvarint()
	if d.err != nil || status < 100 || status > 999 || n > uint64(len(d.b)) {
		return binaryReplay{}, fmt.Errorf("%w: bad header block", ErrCorruptRecord)
	}
	p := binaryReplay{status: int(status), headers: d.b, n: int(n)}
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.view()
		nv := d.uvarint()
		if nv > uint64(len(d.b)) {
			d.err = ErrCorruptRecord
			break
		}
		for j := uint64(0); j < nv && d.err == nil; j++ {
			d.view()
		}
		if d.err == nil && rules.replayable(name) {
			p.values += int(nv)
		}
	}
	p.headers = p.headers[:len(p.headers)-len(d.b)]
	bl := d.uvarint()
	if d.err != nil || bl != uint64(len(d.b)) {
		return binaryReplay{}, fmt.Errorf("%w: bad body", ErrCorruptRecord)
	}
	p.body = d.b
	return p, nil
}

// setHeaders hands every replayable header of p to set, in one
// allocation (the values' slice headers): the strings alias the payload,
// which the store never modifies once it returned it (see Record.Payload)
// and which the replay keeps alive for as long as the headers are.
func (p *binaryReplay) setHeaders(rules *headerRules, ex Exchange) {
	if p.values == 0 {
		return
	}
	all := make([]string, p.values)
	d := decoder{b: p.headers}
	for i := 0; i < p.n; i++ {
		name := d.view()
		nv := int(d.uvarint())
		if !rules.replayable(name) {
			for j := 0; j < nv; j++ {
				d.view()
			}
			continue
		}
		vals := all[:nv:nv]
		all = all[nv:]
		for j := range vals {
			vals[j] = d.view()
		}
		ex.SetHeader(name, vals)
	}
}

// view is str without the copy: the string aliases the decoder's input.
func (d *decoder) view() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.err = ErrCorruptRecord
		return ""
	}
	s := unsafe.String(unsafe.SliceData(d.b), int(n))
	d.b = d.b[n:]
	return s
}
