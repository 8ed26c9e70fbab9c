package core

import (
	"io"
	"net/http"
)

// ReadBody reads the whole body of a net/http request, at most limit
// bytes, and puts it back so the handler reads it unchanged. It returns
// ErrBodyTooLarge (without reading) when Content-Length says the body is
// too long, or as soon as a body of unknown length passes limit. Adapters
// built on net/http (gin, echo) implement Exchange.Body with it.
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
	var err error
	if r.ContentLength > 0 {
		data = make([]byte, r.ContentLength)
		var n int
		n, err = io.ReadFull(r.Body, data)
		data = data[:n]
		if err == io.ErrUnexpectedEOF {
			err = nil // the server reports short bodies itself; hash what came
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
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
	*into = RestoredBody{data: data, rest: rest}
	return into
}

// RestoredBody is the request body ReadBody puts back: the bytes already
// read, then whatever was left of the original body (nothing, for a body
// within its limit).
type RestoredBody struct {
	data []byte
	off  int
	rest io.ReadCloser
}

func (b *RestoredBody) Read(p []byte) (int, error) {
	if b.off < len(b.data) {
		n := copy(p, b.data[b.off:])
		b.off += n
		return n, nil
	}
	return b.rest.Read(p)
}

func (b *RestoredBody) Close() error { return b.rest.Close() }
