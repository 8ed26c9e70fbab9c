package core

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Fingerprint identifies a request's intent. Two requests with one key and
// different fingerprints are a client error (422). Hashes shorter than 32
// bytes fill the front and leave the rest zero.
type Fingerprint [32]byte

// String returns the fingerprint in hexadecimal.
func (f Fingerprint) String() string { return hex.EncodeToString(f[:]) }

// FingerprintInput is what a PayloadHasher sees of a request.
type FingerprintInput struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	Body        []byte
}

// PayloadHasher computes the fingerprint of a request.
type PayloadHasher interface {
	Fingerprint(in *FingerprintInput) (Fingerprint, error)
}

// PayloadHasherFunc adapts a function to PayloadHasher.
type PayloadHasherFunc func(in *FingerprintInput) (Fingerprint, error)

// Fingerprint calls f(in).
func (f PayloadHasherFunc) Fingerprint(in *FingerprintInput) (Fingerprint, error) { return f(in) }

// HashOption configures a CanonicalHasher.
type HashOption func(*CanonicalHasher)

// WithHashFunc sets the hash algorithm, e.g. the xxh3-128 module's
// constructor. Sums longer than 32 bytes are truncated. Default SHA-256.
func WithHashFunc(newHash func() hash.Hash) HashOption {
	return func(h *CanonicalHasher) { h.newHash = newHash }
}

// WithIgnore leaves JSON members out of the fingerprint by dotted path;
// "*" matches any key or array element: "items.*.timestamp".
//
// Path segments match keys exactly (after unescaping), case-sensitively,
// although encoding/json and sonic would decode "Timestamp" or "TIMESTAMP"
// into the same field as "timestamp". A member spelled otherwise than the
// path therefore still counts: a client that changes the spelling between
// retries gets a mismatch (422), never a replay. Ignoring every spelling
// would let a member that a handler reads as something else (a second
// struct field whose name differs only in case, a key of a decoded map)
// change the request without changing its fingerprint. A matching key is
// left out every time it occurs, however often it repeats.
func WithIgnore(paths ...string) HashOption {
	return func(h *CanonicalHasher) { h.ignore = compileIgnore(paths) }
}

// Default multipart limits; see WithMultipartLimits.
const (
	DefaultMaxParts           = 1000
	DefaultMaxPartHeaderBytes = 1 << 20
)

// WithMultipartLimits caps how much structure a multipart/form-data body
// may have. Parsing parts and header lines, not hashing bytes, is what
// costs CPU (100,000 empty parts took about a second), so a body over
// either cap is not fingerprinted: Fingerprint fails with an error
// wrapping ErrMultipartLimit.
//
//   - maxParts bounds the number of parts. Default 1,000
//     (DefaultMaxParts), as in multipart.Reader.ReadForm.
//   - maxHeaderBytes bounds the part headers together. Each part counts
//     100 bytes, and each header line 100 bytes plus its length as sent
//     ("Name: value\r\n"): the 100 bytes stand for what parsing a part
//     or a line costs whatever its size. Default 1 MiB
//     (DefaultMaxPartHeaderBytes): room for 1,000 parts with a few
//     ordinary headers each, and for about 10,000 header lines in all.
//
// The headers are counted part by part, after mime/multipart has parsed
// them (it limits one part to 10,000 header lines on its own). Zero or a
// negative value leaves a limit at its default; math.MaxInt removes it.
func WithMultipartLimits(maxParts, maxHeaderBytes int) HashOption {
	return func(h *CanonicalHasher) {
		if maxParts > 0 {
			h.maxParts = maxParts
		}
		if maxHeaderBytes > 0 {
			h.maxHeaderBytes = maxHeaderBytes
		}
	}
}

// WithoutFiles leaves multipart file parts out of the fingerprint (their
// field names still count).
func WithoutFiles() HashOption {
	return func(h *CanonicalHasher) { h.skipFiles = true }
}

// CanonicalHasher is the default PayloadHasher. It hashes the method, the
// concrete path, the query with its parameters sorted, and the body in a
// canonical form chosen by content type: canonical JSON (see canonjson.go)
// for JSON, sorted fields for forms, sorted fields plus file name, size,
// type and content hash for multipart, raw bytes otherwise. A body that
// does not parse as its declared type is hashed raw, never rejected; the
// one error is a multipart body over the part limits (WithMultipartLimits).
type CanonicalHasher struct {
	newHash        func() hash.Hash
	ignore         *ignoreNode
	skipFiles      bool
	maxParts       int
	maxHeaderBytes int
	states         sync.Pool // *hashState
}

type hashState struct {
	h   hash.Hash
	c   canon
	hdr []byte
	sum []byte
}

// NewCanonicalHasher returns the default hasher with opts applied.
func NewCanonicalHasher(opts ...HashOption) *CanonicalHasher {
	h := &CanonicalHasher{newHash: sha256.New, maxParts: DefaultMaxParts, maxHeaderBytes: DefaultMaxPartHeaderBytes}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Body kinds, hashed into the fingerprint so that a JSON body and a raw
// body with the same bytes never collide.
const (
	kindRaw       = 'r'
	kindJSON      = 'j'
	kindForm      = 'f'
	kindMultipart = 'm'
)

// Fingerprint implements PayloadHasher.
func (h *CanonicalHasher) Fingerprint(in *FingerprintInput) (Fingerprint, error) {
	st, _ := h.states.Get().(*hashState)
	if st == nil {
		st = &hashState{h: h.newHash()}
		st.c.ignore = h.ignore
	}
	defer h.states.Put(st)
	st.h.Reset()
	// The framing goes through one buffer and one Write: writing small
	// pieces to a hash.Hash interface allocates for each.
	// Each field is length-prefixed, so no path or query content (a
	// decoded newline, say) can shift one field into the next.
	b := append(st.hdr[:0], "idemkit/2\n"...)
	b = appendField(b, in.Method)
	b = appendField(b, in.Path)
	q := len(b)
	b = appendCanonicalQuery(append(b, 0, 0, 0, 0), in.RawQuery)
	binary.BigEndian.PutUint32(b[q:], uint32(len(b)-q-4))
	st.hdr = b
	if err := h.writeBody(st, in.ContentType, in.Body); err != nil {
		return Fingerprint{}, err
	}
	st.sum = st.h.Sum(st.sum[:0])
	var fp Fingerprint
	copy(fp[:], st.sum)
	return fp, nil
}

// writeBody hashes the framing in st.hdr followed by a body kind byte and
// the body in canonical form. It fails only for a multipart body over the
// part limits, and then writes nothing.
func (h *CanonicalHasher) writeBody(st *hashState, contentType string, body []byte) error {
	w := st.h
	if len(body) > 0 {
		switch mediaKind(contentType) {
		case kindJSON:
			st.c.out = st.c.out[:0]
			st.c.members = st.c.members[:0]
			err := st.c.run(body)
			if err == nil {
				w.Write(append(st.hdr, kindJSON))
				w.Write(st.c.out)
			}
			st.c.shrink()
			if err == nil {
				return nil
			}
		case kindForm:
			if vals, err := url.ParseQuery(string(body)); err == nil {
				w.Write(append(st.hdr, kindForm))
				io.WriteString(w, vals.Encode())
				return nil
			}
		case kindMultipart:
			mp, ok, err := h.canonicalMultipart([]byte{kindMultipart}, contentType, body)
			if err != nil {
				return err
			}
			if ok {
				w.Write(st.hdr)
				w.Write(mp)
				return nil
			}
		}
	}
	w.Write(append(st.hdr, kindRaw))
	w.Write(body)
	return nil
}

// shrink drops scratch buffers that a huge body grew, so the pool does
// not pin them.
func (c *canon) shrink() {
	const keep = 256 << 10
	if cap(c.out) > keep {
		c.out = nil
	}
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
	c.src = nil
}

// mediaKind classifies a Content-Type without allocating for the common
// cases.
func mediaKind(ct string) byte {
	mt := ct
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	switch {
	case strings.EqualFold(mt, "application/json"):
		return kindJSON
	case strings.EqualFold(mt, "application/x-www-form-urlencoded"):
		return kindForm
	case strings.EqualFold(mt, "multipart/form-data"):
		return kindMultipart
	case len(mt) > 5 && strings.EqualFold(mt[len(mt)-5:], "+json"):
		return kindJSON // application/problem+json, application/vnd.api+json, ...
	}
	return kindRaw
}

func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// appendCanonicalQuery appends the query with its parameters sorted by
// name (values keep their order) and their encoding normalised; a query
// that does not parse is appended raw.
func appendCanonicalQuery(b []byte, raw string) []byte {
	if raw == "" {
		return b
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return append(b, raw...)
	}
	return append(b, v.Encode()...) // Encode sorts by key
}

type multipartPart struct {
	name, filename, ctype string
	size                  int
	digest                [32]byte
	isFile                bool
}

// canonicalMultipart appends the canonical form of a multipart body to
// dst: fields sorted by name, and files by field name, file name, size,
// content type and SHA-256 of their content. It reports false when the
// body is not valid multipart (up to the point where it would exceed the
// part limits, which is an error wrapping ErrMultipartLimit).
func (h *CanonicalHasher) canonicalMultipart(dst []byte, contentType string, body []byte) ([]byte, bool, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, false, nil
	}
	r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var parts []multipartPart
	var buf []byte // io.Copy would allocate 32 KiB per part
	headerBytes := 0
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, nil
		}
		if len(parts) == h.maxParts {
			return nil, false, fmt.Errorf("%w: more than %d parts", ErrMultipartLimit, h.maxParts)
		}
		if headerBytes += partHeaderCost(p.Header); headerBytes > h.maxHeaderBytes {
			return nil, false, fmt.Errorf("%w: more than %d bytes of part headers", ErrMultipartLimit, h.maxHeaderBytes)
		}
		mp := multipartPart{name: p.FormName(), filename: p.FileName(), ctype: p.Header.Get("Content-Type")}
		mp.isFile = mp.filename != ""
		d := sha256.New()
		if buf == nil {
			buf = make([]byte, 8<<10)
		}
		n, err := io.CopyBuffer(d, p, buf)
		if err != nil {
			return nil, false, nil
		}
		mp.size = int(n)
		d.Sum(mp.digest[:0])
		if mp.isFile && h.skipFiles {
			mp.size, mp.digest, mp.ctype, mp.filename = 0, [32]byte{}, "", ""
		}
		parts = append(parts, mp)
	}
	sort.SliceStable(parts, func(i, j int) bool {
		if parts[i].name != parts[j].name {
			return parts[i].name < parts[j].name
		}
		return parts[i].filename < parts[j].filename
	})
	for _, p := range parts {
		dst = append(dst, p.name...)
		dst = append(dst, 0)
		if p.isFile {
			dst = append(dst, 'F')
			dst = append(dst, p.filename...)
			dst = append(dst, 0)
			dst = append(dst, p.ctype...)
			dst = append(dst, 0)
			dst = appendInt(dst, p.size)
		} else {
			dst = append(dst, 'V')
		}
		dst = append(dst, 0)
		dst = append(dst, p.digest[:]...)
	}
	return dst, true, nil
}

// Costs charged against the part header limit (WithMultipartLimits).
const (
	partOverhead = 100
	lineOverhead = 100
)

// partHeaderCost is what a part's header counts against the header limit.
func partHeaderCost(hdr textproto.MIMEHeader) int {
	n := partOverhead
	for name, vals := range hdr {
		for _, v := range vals {
			n += lineOverhead + len(name) + len(v) + len(": \r\n")
		}
	}
	return n
}
