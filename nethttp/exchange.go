package idemhttp

import (
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
	cw      core.CaptureWriter
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
	x.cw.ResponseWriter = x.w
	x.cw.Start(ctx, limit, x.w)
	h := x.w.Header()
	x.snap.Take(h)
	x.cw.Outer(&x.snap)
	x.cw.RecoveryAnswers() // net/http recoverers write their 500 regardless
	x.next.ServeHTTP(&x.cw, x.r.WithContext(ctx))
	capd := x.cw.Captured(x.cw.Status(), h) // 0, nothing written, is 200 to the Engine as to net/http
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
