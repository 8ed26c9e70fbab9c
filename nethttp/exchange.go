package idemhttp

import (
	"bufio"
	"context"
	"net"
	"net/http"

	"github.com/idemkit/idempotency/core"
)

var _ core.Exchange = (*exchange)(nil)

// enteredKey marks, in the context of the request it passes on, a request
// that an idemkit middleware entered and then passed through (a missing
// optional key, failing open). While one runs the chain under a claim,
// the context carries the claim (core.ClaimContextKey) instead, so the
// common request needs no marker (and no context of its own) for it.
type enteredKey struct{}

// exchange maps one request and its http.ResponseWriter to core.Exchange.
// It is pooled.
type exchange struct {
	w       http.ResponseWriter
	r       *http.Request
	next    http.Handler
	entered bool
	cw      captureWriter
	snap    core.HeaderSnapshot
	body    core.RestoredBody
}

func (x *exchange) reset() {
	x.w, x.r, x.next, x.entered = nil, nil, nil, false
	x.snap.Reset()
	x.body.Reset()
	x.cw.ResponseWriter = nil
}

// view is the read-only core.Request of an exchange: the same memory, a
// type without the exchange's methods, so that extension points cannot
// reach Next or Reply.
type view exchange

var _ core.Request = (*view)(nil)

func (x *exchange) Request() core.Request { return (*view)(x) }

func (v *view) Context() context.Context    { return v.r.Context() }
func (v *view) Method() string              { return v.r.Method }
func (v *view) Path() string                { return v.r.URL.Path }
func (v *view) Route() string               { return patternRoute(v.r.Pattern) }
func (v *view) RawQuery() string            { return v.r.URL.RawQuery }
func (v *view) Header(name string) []string { return v.r.Header.Values(name) }

// ClientIP is the host of the connection's remote address: net/http
// knows no proxies. Behind one, scope by IP with core.WithScopeResolver
// reading the header your proxy sets.
func (v *view) ClientIP() string {
	host, _, err := net.SplitHostPort(v.r.RemoteAddr)
	if err != nil {
		return v.r.RemoteAddr
	}
	return host
}

// Value reads the request's context: net/http's place for what earlier
// middleware stored. key is a string, so only values stored under that
// plain string key are found (core.WithUserKey); WithUserGetter reads
// values stored under a typed key.
func (v *view) Value(key string) any { return v.r.Context().Value(key) }

func (x *exchange) Body(limit int64) ([]byte, error) {
	return core.ReadBody(x.r, limit, &x.body)
}

// Enter reports false when an outer idemkit middleware entered this
// request: it runs the chain under its claim (Next installed the claim in
// the request's context), or passed the request through after entering
// (enteredKey).
func (x *exchange) Enter() bool {
	ctx := x.r.Context()
	if ctx.Value(core.ClaimContextKey) != nil || ctx.Value(enteredKey{}) != nil {
		return false
	}
	x.entered = true
	return true
}

func (x *exchange) SetHeader(name string, values []string) { x.w.Header()[name] = values }

func (x *exchange) Reply(status int, header http.Header, body []byte) {
	h := x.w.Header()
	for k, v := range header {
		h[k] = v
	}
	x.w.WriteHeader(status)
	_, _ = x.w.Write(body)
}

// Next runs the chain with ctx, which carries the claim, as the request's
// context, through a writer that captures the response.
func (x *exchange) Next(ctx context.Context, limit int) (core.Captured, error) {
	x.cw.ResponseWriter, x.cw.status = x.w, 0
	x.cw.Start(ctx, limit, x.w)
	h := x.w.Header()
	x.snap.Take(h)
	x.cw.Outer(&x.snap)
	x.cw.RecoveryAnswers() // net/http recoverers write their 500 regardless
	x.next.ServeHTTP(&x.cw, x.r.WithContext(ctx))
	capd := x.cw.Captured(x.cw.status, h) // 0, nothing written, is 200 to the Engine as to net/http
	if x.snap.Len() > 0 {
		capd.Outer = &x.snap
	}
	return capd, nil
}

func (x *exchange) Pass() error {
	r := x.r
	if x.entered { // entered, then passed through: inner ones pass too
		r = r.WithContext(context.WithValue(r.Context(), enteredKey{}, true))
	}
	x.next.ServeHTTP(x.w, r)
	return nil
}

// captureWriter passes everything through to the server's writer and
// keeps a copy of the body and the status. Flushing or hijacking marks
// the response as streamed; while the response is held for a transaction
// (core.HoldResponse) nothing is passed on. It implements http.Flusher and
// http.Hijacker, and Unwrap for http.ResponseController (deadlines,
// full duplex), but not io.ReaderFrom: io.Copy (http.ServeContent,
// http.FileServer) then writes through Write, where the body is kept,
// instead of handing the server a file the capture would never see.
type captureWriter struct {
	http.ResponseWriter
	core.BodyCapture
	status int // the final status written; 0 before
}

var (
	_ http.Flusher  = (*captureWriter)(nil)
	_ http.Hijacker = (*captureWriter)(nil)
)

// WriteHeader records the first final status: 1xx informational
// responses (103 Early Hints) may come before it and are not the
// response, and net/http ignores repeated calls.
func (w *captureWriter) WriteHeader(code int) {
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
func (w *captureWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.Keep(b) {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// WriteString keeps io.WriteString from converting s to a []byte when the
// server's writer writes strings itself.
func (w *captureWriter) WriteString(s string) (int, error) {
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

func (w *captureWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is what http.ResponseController calls first; it reports the
// server writer's error, which Flush cannot.
func (w *captureWriter) FlushError() error {
	if w.Streamed() {
		return nil // held: sent whole once committed
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *captureWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.Streamed() {
		return nil, nil, core.ErrResponseHeld
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
