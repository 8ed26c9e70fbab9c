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
	"strconv"
	"strings"
	"sync"

	"github.com/idemkit/idempotency/internal/canonjson"
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

// HashOption configures a CanonicalHasher. Every HashOption is also an
// Option: passed to New, it configures the Engine's default hasher, so one
// set of options serves both. Options apply in order; an invalid one makes
// NewCanonicalHasher (or New) return an error wrapping ErrInvalidOption.
// With WithPayloadHasher, New rejects them: configure your own hasher
// instead.
type HashOption interface {
	Option
	applyHash(*CanonicalHasher) error
}

type hashOption func(*CanonicalHasher) error

func (f hashOption) applyHash(h *CanonicalHasher) error { return f(h) }

// apply keeps the option for the default hasher, which New builds once
// every option is in.
func (f hashOption) apply(c *config) error {
	c.hashOpts = append(c.hashOpts[:len(c.hashOpts):len(c.hashOpts)], f)
	return nil
}

// WithHashAlgorithm sets the hash of the canonical fingerprint, e.g.
// idemxxh3.New for XXH3-128 (module xxh3). Default crypto/sha256.New.
// SHA-256 resists crafted collisions; XXH3 is faster and suits payloads
// whose senders are trusted not to search for collisions. Sums must be at
// least 16 bytes; those longer than 32 are truncated.
func WithHashAlgorithm(newHash func() hash.Hash) HashOption {
	return hashOption(func(h *CanonicalHasher) error {
		if newHash == nil {
			return invalid("nil hash constructor")
		}
		if n := newHash().Size(); n < 16 {
			return invalid("hash sums of %d bytes are too short for fingerprints (need at least 16)", n)
		}
		h.newHash = newHash
		return nil
	})
}

// WithIgnoredFields leaves JSON members out of the fingerprint, by dotted
// path: "metadata.client_request_id", "items.*.timestamp", "*" matching
// any key or array element. Several calls add up. A path that is empty or
// has an empty segment ("a..b", ".a") is invalid.
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
func WithIgnoredFields(paths ...string) HashOption {
	return hashOption(func(h *CanonicalHasher) error {
		ig, err := canonjson.CompileIgnore(paths...) // validates
		if err != nil {
			return invalid("ignored field path: %v", err)
		}
		if ig == nil {
			return nil
		}
		h.ignorePaths = append(h.ignorePaths[:len(h.ignorePaths):len(h.ignorePaths)], paths...)
		return nil
	})
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
	return hashOption(func(h *CanonicalHasher) error {
		if maxParts > 0 {
			h.maxParts = maxParts
		}
		if maxHeaderBytes > 0 {
			h.maxHeaderBytes = maxHeaderBytes
		}
		return nil
	})
}

// WithoutFiles leaves multipart file parts out of the fingerprint (their
// field names still count).
func WithoutFiles() HashOption {
	return hashOption(func(h *CanonicalHasher) error {
		h.skipFiles = true
		return nil
	})
}

// CanonicalHasher is the default PayloadHasher. It hashes the method, the
// concrete path, the query with its parameters sorted, and the body in a
// canonical form chosen by content type: canonical JSON (see
// internal/canonjson) for JSON, sorted fields for forms, sorted fields plus file name, size,
// type and content hash for multipart, raw bytes otherwise. A body that
// does not parse as its declared type is hashed raw, never rejected; the
// one error is a multipart body over the part limits (WithMultipartLimits).
type CanonicalHasher struct {
	newHash        func() hash.Hash
	ignorePaths    []string // WithIgnoredFields, compiled into ignore
	ignore         *canonjson.Ignore
	skipFiles      bool
	maxParts       int
	maxHeaderBytes int
	states         sync.Pool // *hashState
}

type hashState struct {
	h   hash.Hash
	c   canonjson.Canon
	buf []byte // framing, then the body kind and canonical body
	sum []byte
}

// NewCanonicalHasher returns the default hasher with opts applied. It
// returns an error wrapping ErrInvalidOption when an option is invalid.
func NewCanonicalHasher(opts ...HashOption) (*CanonicalHasher, error) {
	h := &CanonicalHasher{newHash: sha256.New, maxParts: DefaultMaxParts, maxHeaderBytes: DefaultMaxPartHeaderBytes}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o.applyHash(h); err != nil {
			return nil, err
		}
	}
	ig, err := canonjson.CompileIgnore(h.ignorePaths...)
	if err != nil { // each path was checked: cannot happen
		return nil, invalid("ignored field path: %v", err)
	}
	h.ignore, h.ignorePaths = ig, nil
	return h, nil
}

// MustCanonicalHasher is NewCanonicalHasher for options known to be
// valid: it panics on an error.
func MustCanonicalHasher(opts ...HashOption) *CanonicalHasher {
	h, err := NewCanonicalHasher(opts...)
	if err != nil {
		panic(err)
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
	}
	defer h.states.Put(st)
	st.h.Reset()
	b, err := h.writeBody(st.h, &st.c, st.buf[:0], in)
	// Keep the buffer for the next request unless a huge body grew it:
	// the pool must not pin that. (JSON bodies up to 256 KiB are
	// canonicalised in it whole, larger ones stream through ~64 KiB.)
	if cap(b) <= 512<<10 {
		st.buf = b[:0]
	} else {
		st.buf = nil
	}
	if err != nil {
		return Fingerprint{}, err
	}
	st.sum = st.h.Sum(st.sum[:0])
	var fp Fingerprint
	copy(fp[:], st.sum)
	return fp, nil
}

// appendFraming appends what precedes the body in the hash: a version,
// the method, the path and the canonical query. It goes through one
// buffer and one Write: writing small pieces to a hash.Hash interface
// allocates for each. Each field is length-prefixed, so no path or query
// content (a decoded newline, say) can shift one field into the next.
func appendFraming(b []byte, in *FingerprintInput) []byte {
	b = append(b, "idemkit/2\n"...)
	b = appendField(b, in.Method)
	b = appendField(b, in.Path)
	q := len(b)
	b = appendCanonicalQuery(append(b, 0, 0, 0, 0), in.RawQuery)
	binary.BigEndian.PutUint32(b[q:], uint32(len(b)-q-4))
	return b
}

// writeBody writes to w the framing followed by a body kind byte and the
// body in canonical form, using buf (empty) as its buffer, which it
// returns, grown, for reuse. It fails only for a multipart body over the
// part limits, and then writes nothing.
func (h *CanonicalHasher) writeBody(w hash.Hash, c *canonjson.Canon, buf []byte, in *FingerprintInput) ([]byte, error) {
	contentType, body := in.ContentType, in.Body
	buf = appendFraming(buf, in)
	n := len(buf)
	if len(body) > 0 {
		switch mediaKind(contentType) {
		case kindJSON:
			// The canonical form is streamed into the hash in chunks,
			// after the framing; it is not materialised.
			out, err := c.Stream(w, append(buf, kindJSON), body, h.ignore)
			if err == nil {
				return out, nil
			}
			// Not canonicalisable: start again, with the raw body.
			w.Reset()
			buf = appendFraming(out[:0], in)
		case kindForm:
			if vals, err := url.ParseQuery(string(body)); err == nil {
				buf = append(buf, kindForm)
				w.Write(buf)
				io.WriteString(w, vals.Encode())
				return buf, nil
			}
		case kindMultipart:
			mp, ok, err := h.canonicalMultipart(append(buf, kindMultipart), contentType, body)
			if err != nil {
				return buf, err
			}
			if ok {
				w.Write(mp)
				return mp, nil
			}
		}
	}
	buf = append(buf[:n], kindRaw)
	w.Write(buf)
	w.Write(body)
	return buf, nil
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
	var buf []byte  // io.Copy would allocate 32 KiB per part
	var d hash.Hash // one digest, reset for each part
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
		if buf == nil {
			buf = make([]byte, 8<<10)
			d = sha256.New()
		} else {
			d.Reset()
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
			dst = strconv.AppendInt(dst, int64(p.size), 10)
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
