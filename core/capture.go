package core

import (
	"context"
	"net/http"
	"strings"
)

// Captured is what the handler wrote, as seen by the adapter.
type Captured struct {
	Status int
	// Header is the response header as the handler left it.
	Header http.Header
	// Lines, when Header is nil, is the response header as a list of
	// lines, for frameworks that keep headers so (fasthttp): the Engine
	// encodes them straight into the stored record, without building an
	// http.Header. Names are canonical; a name may appear on several
	// lines; the strings may alias the framework's buffers, since the
	// Engine reads them only until Serve returns.
	Lines []HeaderLine
	// Outer holds the headers present before the rest of the chain ran
	// (set by outer middleware); those still unchanged are not stored.
	// nil when there were none.
	Outer *HeaderSnapshot
	// Body holds the response body when it fit in the capture limit.
	Body []byte
	// Oversize is true when the body exceeded the capture limit.
	Oversize bool
	// Streamed is true when the handler flushed, hijacked or streamed.
	Streamed bool

	// frame, when set by BodyCapture, is Body's buffer from captureHeadroom
	// bytes before Body: the Engine writes the record's head there.
	frame []byte
}

// HeaderLine is one response header line (see Captured.Lines).
type HeaderLine struct{ Name, Value string }

// lineValues returns the values of the first name of lines, which are
// grouped by name (see groupLines), in vals.
func lineValues(lines []HeaderLine, vals []string) (name string, n int, out []string) {
	name = lines[0].Name
	out = vals[:0]
	for n < len(lines) && lines[n].Name == name {
		out = append(out, lines[n].Value)
		n++
	}
	return name, n, out
}

// groupLines orders lines so that the lines of one name are adjacent, in
// their original order (a stable insertion sort: a response has few
// lines, and most are already grouped).
func groupLines(lines []HeaderLine) {
	for i := 1; i < len(lines); i++ {
		for j := i; j > 0 && lines[j].Name < lines[j-1].Name; j-- {
			lines[j], lines[j-1] = lines[j-1], lines[j]
		}
	}
}

// linesHeader copies lines into an http.Header, for the code paths that
// need one (serializers other than the built-in one).
func linesHeader(lines []HeaderLine) http.Header {
	if len(lines) == 0 {
		return nil // as Engine.Do's responses, which have no header
	}
	h := make(http.Header, len(lines))
	for _, l := range lines {
		h[l.Name] = append(h[l.Name], strings.Clone(l.Value))
	}
	return h
}

// BodyCapture keeps a copy of a response body as an adapter's writer
// passes it through, up to a limit, and remembers whether the response
// was streamed. Adapters whose frameworks write through an
// http.ResponseWriter use CaptureWriter, which embeds it; others (Gin's
// own writer interface) embed it in their writer wrapper, and ask it
// before passing anything on: while a response is held for a transaction
// (HoldResponse), Keep, KeepString and KeepStatus return true and the
// writer passes nothing on; the Engine sends the response once the
// transaction has committed.
//
// For a body whose first write is at least framedMin bytes, the copy is
// the only one: it is made into a buffer that leaves room in front of the
// body for the record's head (see payloadFrame), so the Engine stores the
// buffer itself rather than copying the body again. Such a response gets
// a buffer of its own, sized to its first write, which the store keeps.
// A smaller body is captured into a buffer kept from response to
// response, and copied into the payload: framed, its headroom would be
// memory a store accounting cap(payload) cannot see, more than an eighth
// of the record.
type BodyCapture struct {
	buf      []byte // head free bytes, then the body
	head     int    // captureHeadroom when buf is framed (handed to the store), else 0
	spare    []byte // an unframed buffer kept for the next response
	limit    int
	oversize bool
	streamed bool
	sink     http.ResponseWriter // where a held response goes
	outer    *HeaderSnapshot     // headers set before the chain ran (Outer)
	held     bool                // held for a transaction (HoldResponse)
	sent     bool                // something was passed on to the client
	started  bool                // the handler wrote while held (HeldStarted)
	recovers bool                // a panic is answered outside (RecoveryAnswers)
}

// Start prepares the capture for the response of the request whose
// handler runs with ctx (the context Exchange.Next got), keeping at most
// limit body bytes for the store. sink is the writer the adapter's
// writer passes the response on to: a held response is sent there. The
// previous response's buffer is let go, never written again: it may be a
// stored record now.
func (b *BodyCapture) Start(ctx context.Context, limit int, sink http.ResponseWriter) {
	const keepCap = 64 << 10 // do not pin large buffers in a pool
	spare := b.spare
	if b.head == 0 && b.buf != nil && cap(b.buf) <= keepCap {
		spare = b.buf[:0] // never handed over: the Engine copied it
	}
	*b = BodyCapture{limit: limit, sink: sink, spare: spare}
	if r, ok := claimOf(ctx); ok && r.t != nil { // bound only where a transaction can hold it
		r.t.capture = b
	}
}

// Outer tells the capture which response headers were set before the
// chain ran: the snapshot the adapter hands back in Captured.Outer. Call
// it after Start. When the handler panics while its response is held,
// the Engine answers in its place and deletes every other header (the
// handler's), which it could not tell apart without it.
func (b *BodyCapture) Outer(s *HeaderSnapshot) { b.outer = s }

// RecoveryAnswers tells the capture that, when the handler panics while
// its response is held, the adapter's framework has no way to see that a
// response went out, so the Engine must leave the answer to the recovery
// middleware outside (or to the server): it drops the held response and
// the handler's headers and writes nothing. net/http is such a framework:
// a recovery middleware there writes its 500 whatever was sent before.
// Call it after Start.
func (b *BodyCapture) RecoveryAnswers() { b.recovers = true }

// Keep records p, written by the handler. It reports whether the
// response is held: then the writer must not pass p on.
func (b *BodyCapture) Keep(p []byte) (held bool) {
	if b.room(len(p)) {
		b.buf = append(b.buf, p...)
	}
	b.sent, b.started = b.sent || !b.held, b.started || b.held
	return b.held
}

// KeepString records s, written by the handler, as Keep does.
func (b *BodyCapture) KeepString(s string) (held bool) {
	if b.room(len(s)) {
		b.buf = append(b.buf, s...)
	}
	b.sent, b.started = b.sent || !b.held, b.started || b.held
	return b.held
}

// KeepStatus is called by a writer whose WriteHeader sends the status
// line (or fixes it for good). It reports whether the response is held:
// then the writer must not pass the status on (the adapter reports it in
// Captured as usual).
func (b *BodyCapture) KeepStatus() (held bool) {
	b.sent, b.started = b.sent || !b.held, b.started || b.held
	return b.held
}

// HeldStarted reports whether the handler wrote its status or body while
// its response was held: nothing went to the writer underneath, but a
// writer whose framework asks it whether the response started (Gin's
// Written) must say it has, and ignore a later status as it would.
func (b *BodyCapture) HeldStarted() bool { return b.started }

func (b *BodyCapture) room(n int) bool {
	if b.oversize && !b.held || b.streamed || n == 0 {
		return false
	}
	size := len(b.buf) - b.head
	if size+n > b.limit {
		// Too large to store. A held response is still kept whole: it
		// is all the client will get.
		b.oversize = true
		if !b.held {
			b.buf, b.head = nil, 0
			return false
		}
	}
	switch {
	case b.buf != nil:
	case n >= framedMin:
		// Most handlers write their body at once: size the buffer to it.
		b.buf, b.head = make([]byte, captureHeadroom, captureHeadroom+n), captureHeadroom
	default:
		b.buf = b.spare[:0]
	}
	return true
}

// Streamed marks the response as streamed (flushed or hijacked): it is
// delivered as it goes and never stored. It reports whether the response
// is held instead: then the writer must neither flush (the response is
// sent whole once committed) nor hijack (it fails the Hijack).
func (b *BodyCapture) Streamed() (held bool) {
	if b.held {
		return true
	}
	b.streamed, b.sent = true, true
	return false
}

// Captured returns what was written, with the status and header the
// framework reports. The body is handed over: the capture does not touch
// it again.
func (b *BodyCapture) Captured(status int, header http.Header) Captured {
	c := Captured{Status: status, Header: header, Oversize: b.oversize, Streamed: b.streamed}
	if b.buf != nil {
		c.Body = b.buf[b.head:]
		if b.head > 0 {
			c.frame = b.buf
		}
	}
	return c
}

// send writes the held response to the sink, as the handler wrote it.
func (b *BodyCapture) send(status int) {
	b.held = false
	b.sink.WriteHeader(status)
	if b.buf != nil {
		_, _ = b.sink.Write(b.buf[b.head:])
	}
}

// discard drops the held response: nothing of it is sent, and the
// headers the handler set are deleted from h (outer middleware's, those
// unchanged since the snapshot, stay).
func (b *BodyCapture) discard(h http.Header, outer *HeaderSnapshot) {
	b.held = false
	for name, vals := range h {
		if !outer.Unchanged(name, vals) {
			delete(h, name)
		}
	}
}

// replace writes resp to the sink instead of the held response.
func (b *BodyCapture) replace(h http.Header, outer *HeaderSnapshot, resp *Response) {
	b.discard(h, outer)
	for name, vals := range resp.Header {
		h[name] = vals
	}
	b.sink.WriteHeader(resp.Status)
	_, _ = b.sink.Write(resp.Body)
}

// HeaderSnapshot remembers the response headers that were present when
// the idempotency middleware started: outer middleware (a request id,
// CORS) set them, and sets them again on a replay, so they are neither
// stored nor replayed unless the handler changed them. Adapters take one
// before running the rest of the chain and hand it back in
// Captured.Outer. The zero value is empty; Reset makes it reusable
// without giving up its memory.
type HeaderSnapshot struct {
	names []string
	offs  []int    // values of names[i] are vals[offs[i]:offs[i+1]]
	vals  []string // copies of the string headers, so in-place edits show
}

// Reset empties the snapshot.
func (s *HeaderSnapshot) Reset() {
	clear(s.names)
	clear(s.vals)
	s.names, s.offs, s.vals = s.names[:0], s.offs[:0], s.vals[:0]
}

// Take records every header of h (canonical names, as http.Header keeps
// them).
func (s *HeaderSnapshot) Take(h http.Header) {
	s.Reset()
	for name, vals := range h {
		s.names = append(s.names, name)
		s.offs = append(s.offs, len(s.vals))
		s.vals = append(s.vals, vals...)
	}
}

// Add records one value of a header, for frameworks that visit headers
// one value at a time. name must be canonical.
func (s *HeaderSnapshot) Add(name, value string) {
	if n := len(s.names); n == 0 || s.names[n-1] != name {
		s.names = append(s.names, name)
		s.offs = append(s.offs, len(s.vals))
	}
	s.vals = append(s.vals, value)
}

// Len returns the number of headers recorded.
func (s *HeaderSnapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.names)
}

// Unchanged reports whether header name had exactly the values vals when
// the snapshot was taken. A nil snapshot has seen nothing.
func (s *HeaderSnapshot) Unchanged(name string, vals []string) bool {
	if s == nil {
		return false
	}
	for i, n := range s.names {
		if n != name {
			continue
		}
		end := len(s.vals)
		if i+1 < len(s.offs) {
			end = s.offs[i+1]
		}
		was := s.vals[s.offs[i]:end]
		if len(was) != len(vals) {
			return false
		}
		for j := range was {
			if was[j] != vals[j] {
				return false
			}
		}
		return true
	}
	return false
}
