package core

import (
	"bufio"
	"context"
	"net"
	"net/http"
)

// CaptureWriter is the writer wrapper of adapters whose framework writes
// the response through an http.ResponseWriter (net/http, Echo): it passes
// everything through to ResponseWriter while its BodyCapture keeps a copy
// of the body; while the response is held for a transaction
// (HoldResponse) it passes nothing on, and the Engine sends the response
// to the capture's sink once committed. Flushing or hijacking marks the
// response as streamed. It remembers the final status written (Status),
// for frameworks that do not report it themselves.
//
// It implements http.Flusher, http.Hijacker, io.StringWriter, and Unwrap
// for http.ResponseController (deadlines, full duplex), but not
// io.ReaderFrom: io.Copy (http.ServeContent, http.FileServer) then writes
// through Write, where the body is kept, instead of handing the server a
// file the capture would never see.
//
// Set ResponseWriter, then call Start, before each response; the zero
// value is ready for that, and may be pooled.
type CaptureWriter struct {
	http.ResponseWriter
	BodyCapture
	status int // the final status written; 0 before
}

var (
	_ http.Flusher  = (*CaptureWriter)(nil)
	_ http.Hijacker = (*CaptureWriter)(nil)
)

// Start prepares the writer for a new response, as BodyCapture.Start
// does, and forgets the previous response's status.
func (w *CaptureWriter) Start(ctx context.Context, limit int, sink http.ResponseWriter) {
	w.status = 0
	w.BodyCapture.Start(ctx, limit, sink)
}

// Status returns the final status the handler wrote, or 0 when it wrote
// nothing (net/http then sends 200).
func (w *CaptureWriter) Status() int { return w.status }

// WriteHeader records the first final status: 1xx informational
// responses (103 Early Hints) may come before it and are not the
// response (101 Switching Protocols is: the connection is upgraded), and
// net/http ignores repeated calls.
func (w *CaptureWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	if w.KeepStatus() {
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write makes the status 200 when none was written, as net/http does, so
// that a later WriteHeader, which net/http ignores, is ignored here too.
func (w *CaptureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.Keep(b) {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// WriteString keeps io.WriteString from converting s to a []byte when the
// writer underneath writes strings itself.
func (w *CaptureWriter) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.KeepString(s) {
		return len(s), nil
	}
	if sw, ok := w.ResponseWriter.(interface{ WriteString(string) (int, error) }); ok {
		return sw.WriteString(s)
	}
	return w.ResponseWriter.Write([]byte(s))
}

// Flush flushes the writer underneath and marks the response streamed;
// a held response is not flushed (it is sent whole once committed).
func (w *CaptureWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is what http.ResponseController calls first; it reports the
// underlying writer's error, which Flush cannot.
func (w *CaptureWriter) FlushError() error {
	if w.Streamed() {
		return nil // held: sent whole once committed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over and marks the response streamed; a
// held response fails it with ErrResponseHeld.
func (w *CaptureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.Streamed() {
		return nil, nil, ErrResponseHeld
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController (and frameworks' unwrapping, such
// as echo.UnwrapResponse) reach the writer underneath.
func (w *CaptureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
