package core

import (
	"io"
	"net/http"
)

// ReadBody reads the whole body of a net/http request, at most limit
// bytes, and puts it back so the handler reads it unchanged. It returns
// ErrBodyTooLarge (without reading) when Content-Length says the body is
// too long, or as soon as a body of unknown length passes limit. Adapters
// built on net/http (gin, echo, echov5, nethttp) implement Exchange.Body
// with it.
//
// into, when not nil, is reused as the replacement body (adapters keep one
// in their pooled per-request state); nil allocates one.
func ReadBody(r *http.Request, limit int64, into *RestoredBody) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, ErrBodyTooLarge
	}
	var data []byte
	if into != nil {
		data = into.keep[:0] // the previous request's buffer, reused
	}
	var err error
	if r.ContentLength > 0 {
		if int64(cap(data)) >= r.ContentLength {
			data = data[:r.ContentLength]
		} else {
			data = make([]byte, r.ContentLength)
		}
		var n int
		n, err = io.ReadFull(r.Body, data)
		data = data[:n]
		if err == io.ErrUnexpectedEOF {
			err = nil // the server reports short bodies itself; hash what came
		}
	} else {
		data, err = readAll(data, io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(data)) > limit {
			r.Body = restore(into, data, r.Body)
			return nil, ErrBodyTooLarge
		}
	}
	if err != nil {
		return nil, err
	}
	r.Body = restore(into, data, r.Body)
	return data, nil
}

func restore(into *RestoredBody, data []byte, rest io.ReadCloser) *RestoredBody {
	if into == nil {
		into = new(RestoredBody)
	}
	keep := data
	if cap(keep) > keepBodyCap {
		keep = nil // do not pin a large buffer in a pooled exchange
	}
	*into = RestoredBody{data: data, rest: rest, keep: keep}
	return into
}

// keepBodyCap is the largest body buffer a RestoredBody keeps for reuse.
const keepBodyCap = 64 << 10

// readAll is io.ReadAll appending to buf.
func readAll(buf []byte, r io.Reader) ([]byte, error) {
	if cap(buf) == 0 {
		buf = make([]byte, 0, 512)
	}
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// RestoredBody is the request body ReadBody puts back: the bytes already
// read, then whatever was left of the original body (nothing, for a body
// within its limit).
//
// An adapter that keeps one in pooled per-request state calls Reset when
// the request is over: ReadBody then reads the next body into the same
// buffer (up to 64 KiB), so the handler must not keep reading the body
// once it has returned (as net/http requires of any request body).
type RestoredBody struct {
	data []byte
	off  int
	rest io.ReadCloser
	keep []byte // data's buffer, kept across Reset for the next body
}

// Reset forgets the body, keeping its buffer for the next ReadBody.
func (b *RestoredBody) Reset() { *b = RestoredBody{keep: b.keep} }

func (b *RestoredBody) Read(p []byte) (int, error) {
	if b.off < len(b.data) {
		n := copy(p, b.data[b.off:])
		b.off += n
		return n, nil
	}
	return b.rest.Read(p)
}

func (b *RestoredBody) Close() error { return b.rest.Close() }
