package idemclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Transport is an http.RoundTripper that gives mutating requests an
// idempotency key and retries them safely. It is safe for concurrent use.
type Transport struct {
	next http.RoundTripper
	cfg  config
	// sleep waits for d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ http.RoundTripper = (*Transport)(nil)

// New returns a Transport that sends requests through next
// (http.DefaultTransport when nil):
//
//	client := &http.Client{Transport: idemclient.New(nil)}
func New(next http.RoundTripper, opts ...Option) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	return &Transport{next: next, cfg: newConfig(opts), sleep: sleep}
}

// CloseIdleConnections closes the idle connections of the next
// RoundTripper when it can, so that http.Client.CloseIdleConnections
// reaches through the Transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// DefaultRetryOn is the default retry policy: network errors (except
// context cancellation and certificate verification failures) and the
// statuses 409 Conflict (the original request is still in flight), 425 Too
// Early, 429 Too Many Requests, 502 Bad Gateway, 503 Service Unavailable
// and 504 Gateway Timeout.
func DefaultRetryOn(resp *http.Response, err error) bool {
	if err != nil {
		return retryableError(err)
	}
	if resp == nil {
		return false
	}
	switch resp.StatusCode {
	case http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableError reports whether a transport error may go away on retry.
// Cancellation is the caller's decision, and a certificate that does not
// verify will not verify on the next attempt either.
func retryableError(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var (
		cv *tls.CertificateVerificationError
		ua x509.UnknownAuthorityError
		he x509.HostnameError
		ci x509.CertificateInvalidError
	)
	return !errors.As(err, &cv) && !errors.As(err, &ua) && !errors.As(err, &he) && !errors.As(err, &ci)
}

// needsKey reports whether a request with method gets a generated key.
func needsKey(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// idempotentMethod reports whether method is idempotent by RFC 9110
// (§9.2.2), so that a request without a key may be retried.
func idempotentMethod(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// RoundTrip implements http.RoundTripper. It sends req up to MaxAttempts
// times with the same key and the same body, and returns the response of
// the last attempt: a success, a response that is not retried, or the
// last retryable one when the attempts are exhausted. It returns the
// context's error when the request's context ends while it waits. When
// the key function (WithKeyFunc) fails, it sends nothing and returns an
// error that wraps the function's error, or ErrEmptyKey.
//
// req itself is never modified; every attempt sends a clone.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	base := req.Clone(ctx)
	key := req.Header.Get(t.cfg.headerName)
	if key == "" && needsKey(req.Method) {
		var err error
		if key, err = t.key(ctx); err != nil {
			if req.Body != nil {
				req.Body.Close() // a RoundTripper closes the body, even on error
			}
			return nil, err
		}
		base.Header.Set(t.cfg.headerName, key)
	}
	mayRetry := t.cfg.maxAttempts > 1 && (key != "" || idempotentMethod(req.Method))

	b, err := prepareBody(req, t.cfg.maxBodyBytes, mayRetry)
	if err != nil {
		return nil, err
	}
	rc, err := b.first()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		r := base.Clone(ctx)
		b.set(r, rc)
		resp, err := t.next.RoundTrip(r)
		if attempt >= t.cfg.maxAttempts || !mayRetry || !b.replayable || !t.shouldRetry(resp, err) {
			return resp, err
		}
		if cerr := ctx.Err(); cerr != nil {
			// The caller gave up while an answer that would be retried
			// arrived: report why the retries stopped, not that answer.
			discard(resp)
			return nil, cerr
		}
		delay := t.delay(attempt, resp)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= delay {
			// The caller's deadline passes before the next attempt:
			// the last answer is worth more than a timeout.
			return resp, err
		}
		next, gerr := b.again()
		if gerr != nil {
			return resp, err
		}
		discard(resp)
		if err := t.sleep(ctx, delay); err != nil {
			if next != nil {
				next.Close()
			}
			return nil, err
		}
		rc = next
	}
}

// ErrEmptyKey is wrapped by the error of a request whose key function
// (WithKeyFunc) returned an empty key.
var ErrEmptyKey = errors.New("empty key")

// key returns the key of a logical request from the key function, or an
// error that says the request was not sent.
func (t *Transport) key(ctx context.Context) (string, error) {
	key, err := t.cfg.keyFunc(ctx)
	if err == nil && key == "" {
		err = ErrEmptyKey
	}
	if err != nil {
		return "", fmt.Errorf("idemclient: no idempotency key, request not sent: %w", err)
	}
	return key, nil
}

func (t *Transport) shouldRetry(resp *http.Response, err error) bool {
	if resp != nil && resp.StatusCode == http.StatusUnprocessableEntity {
		// The key was used with another payload: every retry would get
		// the same answer, and the request needs a new key.
		return false
	}
	return t.cfg.retryOn(resp, err)
}

// delay returns how long to wait before retry number attempt: the
// server's Retry-After when it sent one, else exponential backoff with
// full jitter; both capped by the maximum delay.
func (t *Transport) delay(attempt int, resp *http.Response) time.Duration {
	if resp != nil {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, t.cfg.backoffMax)
		}
	}
	ceil := t.cfg.backoffBase
	for i := 1; i < attempt && ceil < t.cfg.backoffMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, t.cfg.backoffMax)
	return mrand.N(ceil + 1)
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP
// date (RFC 9110 §10.2.3). A date in the past means no delay.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, false
		}
		if secs > uint64(time.Duration(1<<62)/time.Second) {
			secs = uint64(time.Duration(1<<62) / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// discard drains a little of a response that is being retried, so that its
// connection can be reused, and closes it.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// body is the request body as every attempt sends it.
type body struct {
	none       bool   // no body at all: nil or http.NoBody
	buf        []byte // buffered body, when buffered
	buffered   bool
	orig       io.ReadCloser // first attempt's body when not buffered
	getBody    func() (io.ReadCloser, error)
	replayable bool
}

// prepareBody decides how the body is sent again: not at all when there is
// none, from a buffer when it fits in limit, through req.GetBody when set,
// and otherwise it is sent once. It closes req.Body when it buffered it.
func prepareBody(req *http.Request, limit int64, mayRetry bool) (*body, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return &body{none: true, replayable: true}, nil
	}
	if !mayRetry {
		return &body{orig: req.Body}, nil
	}
	if req.GetBody != nil {
		return &body{orig: req.Body, getBody: req.GetBody, replayable: true}, nil
	}
	if req.ContentLength > limit {
		return &body{orig: req.Body}, nil
	}
	var buf bytes.Buffer
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(req.Body, limit+1))
	if err != nil {
		req.Body.Close()
		return nil, err
	}
	if n > limit {
		// Too large to keep: send what was read, then the rest, once.
		return &body{orig: multiReadCloser{io.MultiReader(&buf, req.Body), req.Body}}, nil
	}
	req.Body.Close()
	return &body{buf: buf.Bytes(), buffered: true, replayable: true}, nil
}

type multiReadCloser struct {
	io.Reader
	io.Closer
}

// first returns the body of the first attempt.
func (b *body) first() (io.ReadCloser, error) {
	switch {
	case b.none:
		return nil, nil
	case b.buffered:
		return b.reader(), nil
	}
	return b.orig, nil
}

// again returns the body of a retry.
func (b *body) again() (io.ReadCloser, error) {
	switch {
	case b.none:
		return nil, nil
	case b.buffered:
		return b.reader(), nil
	case b.getBody != nil:
		return b.getBody()
	}
	return nil, errors.New("idemclient: body cannot be sent again")
}

func (b *body) reader() io.ReadCloser {
	if len(b.buf) == 0 {
		return http.NoBody
	}
	return io.NopCloser(bytes.NewReader(b.buf))
}

// set gives r the body rc. Buffered bodies also get a GetBody and an exact
// ContentLength, so that the next transport can resend them itself.
func (b *body) set(r *http.Request, rc io.ReadCloser) {
	if b.none {
		return
	}
	r.Body = rc
	if b.buffered {
		r.ContentLength = int64(len(b.buf))
		r.GetBody = func() (io.ReadCloser, error) { return b.reader(), nil }
	}
}
