package idemclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// seen is one attempt as the server received it.
type seen struct {
	method string
	key    string
	hasKey bool
	body   []byte
	length int64
}

// recorder is a test server that records every attempt and answers with
// reply(n, w, r), n counting attempts from 1.
type recorder struct {
	mu  sync.Mutex
	got []seen
	srv *httptest.Server
}

func newRecorder(t *testing.T, reply func(n int, w http.ResponseWriter, r *http.Request)) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		_, has := r.Header["Idempotency-Key"]
		rec.got = append(rec.got, seen{r.Method, r.Header.Get("Idempotency-Key"), has, body, r.ContentLength})
		n := len(rec.got)
		rec.mu.Unlock()
		reply(n, w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) attempts() []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.got...)
}

// failThen answers status fail for the first n attempts, then 201.
func failThen(n, fail int, retryAfter string) func(int, http.ResponseWriter, *http.Request) {
	return func(i int, w http.ResponseWriter, _ *http.Request) {
		if i <= n {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			w.WriteHeader(fail)
			fmt.Fprintf(w, "attempt %d", i)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "attempt %d", i)
	}
}

// fast returns a Transport whose waits are recorded, not slept.
func fast(opts ...Option) (*Transport, *[]time.Duration) {
	tr := New(nil, opts...)
	var mu sync.Mutex
	var delays []time.Duration
	tr.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		delays = append(delays, d)
		mu.Unlock()
		return ctx.Err()
	}
	return tr, &delays
}

func post(t *testing.T, tr http.RoundTripper, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSameKeyAcrossRetries(t *testing.T) {
	rec := newRecorder(t, failThen(2, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	resp := post(t, tr, rec.srv.URL, `{"amount":100}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	got := rec.attempts()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, a := range got {
		if !uuidV4.MatchString(a.key) {
			t.Fatalf("attempt %d: key %q is not a canonical UUID v4", i+1, a.key)
		}
		if a.key != got[0].key {
			t.Fatalf("attempt %d: key %q, first attempt sent %q", i+1, a.key, got[0].key)
		}
	}
}

func TestEveryRetryableStatusIsRetried(t *testing.T) {
	for _, status := range []int{409, 425, 429, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			rec := newRecorder(t, failThen(1, status, ""))
			tr, _ := fast()
			if resp := post(t, tr, rec.srv.URL, `{}`); resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d, want 201 after a retry", resp.StatusCode)
			}
			if n := len(rec.attempts()); n != 2 {
				t.Fatalf("%d attempts, want 2", n)
			}
		})
	}
}

func TestKeysDifferBetweenRequests(t *testing.T) {
	rec := newRecorder(t, failThen(0, 0, ""))
	tr, _ := fast()
	post(t, tr, rec.srv.URL, `{}`)
	post(t, tr, rec.srv.URL, `{}`)
	got := rec.attempts()
	if got[0].key == got[1].key {
		t.Fatalf("two logical requests shared key %q", got[0].key)
	}
}

func TestExistingKeyKept(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "checkout-42")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for i, a := range rec.attempts() {
		if a.key != "checkout-42" {
			t.Fatalf("attempt %d: key %q, want the caller's checkout-42", i+1, a.key)
		}
	}
	if len(rec.attempts()) != 2 {
		t.Fatalf("%d attempts, want 2", len(rec.attempts()))
	}
}

func TestRequestNotModified(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, ok := req.Header["Idempotency-Key"]; ok {
		t.Fatal("RoundTrip wrote the key into the caller's request")
	}
}

func TestHeaderName(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("X-Request-Key")+"|"+r.Header.Get("Idempotency-Key"))
		mu.Unlock()
	}))
	defer srv.Close()
	tr, _ := fast(WithHeaderName("x-request-key"))
	post(t, tr, srv.URL, `{}`)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || !uuidV4.MatchString(strings.TrimSuffix(got[0], "|")) {
		t.Fatalf("got %q, want a UUID in X-Request-Key only", got)
	}
}

// ctxKey is the context key under which the tests' key functions find
// the key, standing in for the claim core.DerivedKey reads.
type ctxKey struct{}

// keyFromContext is a key function that reads the key from the context
// and counts its calls; the call number is appended to the key, so that a
// key computed per attempt would show.
func keyFromContext(calls *int) Option {
	var mu sync.Mutex
	return WithKeyFunc(func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		*calls++
		k, ok := ctx.Value(ctxKey{}).(string)
		if !ok {
			return "", errNoClaim
		}
		return fmt.Sprintf("%s#%d", k, *calls), nil
	})
}

var errNoClaim = errors.New("no claim in context")

func TestKeyFuncFromContextSameKeyOnEveryAttempt(t *testing.T) {
	rec := newRecorder(t, failThen(2, http.StatusServiceUnavailable, ""))
	calls := 0
	tr, _ := fast(keyFromContext(&calls))
	ctx := context.WithValue(context.Background(), ctxKey{}, "op-7")
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	got := rec.attempts()
	if len(got) != 3 {
		t.Fatalf("%d attempts, want 3", len(got))
	}
	for i, a := range got {
		if a.key != "op-7#1" {
			t.Fatalf("attempt %d: key %q, want op-7#1 from the context, computed once", i+1, a.key)
		}
	}
	if calls != 1 {
		t.Fatalf("key func called %d times, want once per logical request", calls)
	}

	// The next logical request asks again, with its own context.
	ctx = context.WithValue(context.Background(), ctxKey{}, "op-8")
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	if resp, err = tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.attempts(); got[len(got)-1].key != "op-8#2" {
		t.Fatalf("key %q, want op-8#2", got[len(got)-1].key)
	}
}

// closeRecorder is a request body that records whether it was closed.
type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestKeyFuncFailureSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(context.Context) (string, error)
		want error
	}{
		{"error", func(context.Context) (string, error) { return "", errNoClaim }, errNoClaim},
		{"error with a key", func(context.Context) (string, error) { return "k", errNoClaim }, errNoClaim},
		{"empty key", func(context.Context) (string, error) { return "", nil }, ErrEmptyKey},
	} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			rec := newRecorder(t, failThen(0, 0, ""))
			tr, _ := fast(WithKeyFunc(tc.fn))
			body := &closeRecorder{Reader: strings.NewReader(`{}`)}
			req, _ := http.NewRequest(method, rec.srv.URL, body)
			resp, err := tr.RoundTrip(req)
			if resp != nil {
				resp.Body.Close()
				t.Fatalf("%s %s: got a response, want none", tc.name, method)
			}
			if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "idemclient: ") {
				t.Fatalf("%s %s: err %v, want an idemclient error wrapping %v", tc.name, method, err, tc.want)
			}
			if n := len(rec.attempts()); n != 0 {
				t.Fatalf("%s %s: %d attempts reached the server, want none", tc.name, method, n)
			}
			if !body.closed {
				t.Fatalf("%s %s: request body not closed", tc.name, method)
			}
		}
	}

	// Through an http.Client, the cause is still there to test.
	rec := newRecorder(t, failThen(0, 0, ""))
	calls := 0
	client := &http.Client{Transport: New(nil, keyFromContext(&calls))}
	_, err := client.Post(rec.srv.URL, "application/json", strings.NewReader(`{}`))
	if !errors.Is(err, errNoClaim) {
		t.Fatalf("err %v, want it to wrap %v", err, errNoClaim)
	}
	if n := len(rec.attempts()); n != 0 {
		t.Fatalf("%d attempts reached the server, want none", n)
	}
}

func TestKeyFuncExplicitHeaderWins(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	calls := 0
	tr, _ := fast(keyFromContext(&calls))
	// The context has no key, so the key func would fail if it were called.
	req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	req.Header.Set("Idempotency-Key", "checkout-42")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.attempts()
	if len(got) != 2 || got[0].key != "checkout-42" || got[1].key != "checkout-42" {
		t.Fatalf("attempts %+v, want two with the caller's checkout-42", got)
	}
	if calls != 0 {
		t.Fatalf("key func called %d times, want never when the request has a key", calls)
	}
}

func TestKeyFuncOnlyForMutatingMethods(t *testing.T) {
	calls := 0
	tr, _ := fast(keyFromContext(&calls))
	for _, method := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
		req, _ := http.NewRequest(method, rec.srv.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		resp.Body.Close()
		if got := rec.attempts(); len(got) != 2 || got[0].hasKey || got[1].hasKey {
			t.Fatalf("%s: attempts %+v, want two without a key", method, got)
		}
	}
	if calls != 0 {
		t.Fatalf("key func called %d times, want never for GET, HEAD, OPTIONS", calls)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	date := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", date)
			w.WriteHeader(http.StatusTooManyRequests)
		case 3:
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusConflict)
		default:
			w.WriteHeader(http.StatusCreated)
		}
	})
	tr, delays := fast(WithBackoff(time.Millisecond, 10*time.Second))
	if resp := post(t, tr, rec.srv.URL, `{}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	d := *delays
	if len(d) != 3 {
		t.Fatalf("%d waits, want 3", len(d))
	}
	if d[0] != 2*time.Second {
		t.Errorf("Retry-After: 2 waited %v, want 2s", d[0])
	}
	if d[1] <= time.Second || d[1] > 3*time.Second {
		t.Errorf("Retry-After: <date in 3s> waited %v, want about 2-3s (second resolution)", d[1])
	}
	if d[2] != 10*time.Second {
		t.Errorf("Retry-After: 3600 waited %v, want the 10s cap", d[2])
	}
}

// The real clock, with durations kept short: Retry-After: 3 is capped to
// the 150ms maximum delay, which is far more than the 1ms backoff base.
func TestRetryAfterWaitsForReal(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, "3"))
	tr := New(nil, WithBackoff(time.Millisecond, 150*time.Millisecond))
	start := time.Now()
	if resp := post(t, tr, rec.srv.URL, `{}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	if el := time.Since(start); el < 150*time.Millisecond || el > 2500*time.Millisecond {
		t.Fatalf("took %v, want the capped Retry-After of 150ms (never the full 3s)", el)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	tr := New(nil, WithBackoff(100*time.Millisecond, time.Second))
	for attempt, ceil := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		var hi time.Duration
		for range 2000 {
			d := tr.delay(attempt, nil)
			if d < 0 || d > ceil {
				t.Fatalf("attempt %d: delay %v outside [0, %v]", attempt, d, ceil)
			}
			hi = max(hi, d)
		}
		if hi < ceil/2 {
			t.Fatalf("attempt %d: largest of 2000 delays %v; jitter does not span [0, %v]", attempt, hi, ceil)
		}
	}
}

func TestUnprocessableNeverRetried(t *testing.T) {
	rec := newRecorder(t, failThen(5, http.StatusUnprocessableEntity, "0"))
	tr, _ := fast(WithRetryOn(func(*http.Response, error) bool { return true }))
	resp := post(t, tr, rec.srv.URL, `{}`)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", resp.StatusCode)
	}
	if n := len(rec.attempts()); n != 1 {
		t.Fatalf("%d attempts, want 1: a 422 is never retried", n)
	}
	if got := readBody(t, resp); got != "attempt 1" {
		t.Fatalf("body %q, want the 422's own body", got)
	}
}

func TestOtherStatusesNotRetried(t *testing.T) {
	// 410 result-unavailable and 423 operation-uncertain: the request ran,
	// or may have; a retry cannot help and must not hammer the server.
	for _, status := range []int{400, 401, 403, 404, 410, 413, 423, 500, 501} {
		rec := newRecorder(t, failThen(5, status, "0"))
		tr, _ := fast()
		if resp := post(t, tr, rec.srv.URL, `{}`); resp.StatusCode != status {
			t.Fatalf("status %d, want %d", resp.StatusCode, status)
		}
		if n := len(rec.attempts()); n != 1 {
			t.Fatalf("%d: %d attempts, want 1", status, n)
		}
	}
}

func TestRetryOn(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusInternalServerError, ""))
	tr, _ := fast(WithRetryOn(func(resp *http.Response, err error) bool {
		return err != nil || resp.StatusCode >= 500
	}))
	if resp := post(t, tr, rec.srv.URL, `{}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201 after retrying the 500", resp.StatusCode)
	}
}

// opaque hides the concrete reader type, so http.NewRequest sets no
// GetBody and ContentLength stays unknown (chunked).
type opaque struct{ io.Reader }

func TestBodyIdenticalOnEachAttempt(t *testing.T) {
	payload := strings.Repeat(`{"amount":100,"currency":"EUR"}`, 1000)
	cases := map[string]func(url string) *http.Request{
		"GetBody": func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(payload)))
			return r
		},
		"buffered, unknown length": func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, opaque{strings.NewReader(payload)})
			return r
		},
		"buffered, known length": func(url string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, url, opaque{strings.NewReader(payload)})
			r.ContentLength = int64(len(payload))
			return r
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			rec := newRecorder(t, failThen(3, http.StatusBadGateway, ""))
			tr, _ := fast()
			resp, err := tr.RoundTrip(mk(rec.srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := rec.attempts()
			if len(got) != 4 {
				t.Fatalf("%d attempts, want 4", len(got))
			}
			for i, a := range got {
				if string(a.body) != payload {
					t.Fatalf("attempt %d sent %d bytes, want the same %d bytes", i+1, len(a.body), len(payload))
				}
			}
		})
	}
}

func TestEmptyBodies(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	req, _ := http.NewRequest(http.MethodDelete, rec.srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.attempts()
	if len(got) != 2 || got[0].key == "" || got[0].key != got[1].key || len(got[1].body) != 0 {
		t.Fatalf("attempts %+v, want two keyed DELETEs without body", got)
	}
}

func TestLargeBodySentOnceWithoutRetries(t *testing.T) {
	rec := newRecorder(t, failThen(5, http.StatusServiceUnavailable, ""))
	tr, _ := fast(WithMaxBodyBytes(16))
	payload := strings.Repeat("x", 100)
	req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, opaque{strings.NewReader(payload)})
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.attempts()
	if len(got) != 1 || string(got[0].body) != payload {
		t.Fatalf("%d attempts (first body %d bytes), want one attempt with the whole %d-byte body", len(got), len(got[0].body), len(payload))
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the 503 as is", resp.StatusCode)
	}
}

func TestLargeBodyWithGetBodyRetried(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast(WithMaxBodyBytes(16))
	payload := strings.Repeat("y", 100)
	req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, strings.NewReader(payload))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := rec.attempts()
	if len(got) != 2 || string(got[0].body) != payload || string(got[1].body) != payload {
		t.Fatalf("%d attempts, want two with the same body", len(got))
	}
}

func TestContextCancellationStopsRetrying(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		cancel() // the caller gives up while the first attempt is answered
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	tr := New(nil, WithBackoff(time.Second, 10*time.Second))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	done := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			resp.Body.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RoundTrip kept retrying after the context was cancelled")
	}
	if n := len(rec.attempts()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

func TestCancelledWhileWaiting(t *testing.T) {
	rec := newRecorder(t, failThen(5, http.StatusServiceUnavailable, "1"))
	ctx, cancel := context.WithCancel(context.Background())
	tr := New(nil, WithBackoff(time.Millisecond, 10*time.Second))
	tr.sleep = func(c context.Context, d time.Duration) error {
		cancel()
		return sleep(c, d)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	resp, err := tr.RoundTrip(req)
	if resp != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, %v; want no response and context.Canceled", resp, err)
	}
	if n := len(rec.attempts()); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
}

func TestDeadlineShorterThanWaitReturnsLastResponse(t *testing.T) {
	rec := newRecorder(t, failThen(5, http.StatusServiceUnavailable, "5"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	tr, delays := fast(WithBackoff(time.Millisecond, 10*time.Second))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, rec.srv.URL, strings.NewReader(`{}`))
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := len(rec.attempts()); n != 1 || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d attempts, status %d; want one 503: a 5s wait cannot fit a 2s deadline", n, resp.StatusCode)
	}
	if len(*delays) != 0 {
		t.Fatalf("waited %v, want no wait", *delays)
	}
}

func TestExhaustionReturnsLastResponse(t *testing.T) {
	rec := newRecorder(t, failThen(100, http.StatusServiceUnavailable, ""))
	tr, delays := fast()
	resp := post(t, tr, rec.srv.URL, `{}`)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if got := readBody(t, resp); got != "attempt 4" {
		t.Fatalf("body %q, want the last attempt's (attempt 4)", got)
	}
	if n := len(rec.attempts()); n != DefaultMaxAttempts {
		t.Fatalf("%d attempts, want %d", n, DefaultMaxAttempts)
	}
	if len(*delays) != DefaultMaxAttempts-1 {
		t.Fatalf("%d waits, want %d", len(*delays), DefaultMaxAttempts-1)
	}
}

func TestMaxAttempts(t *testing.T) {
	rec := newRecorder(t, failThen(100, http.StatusServiceUnavailable, ""))
	tr, _ := fast(WithMaxAttempts(2))
	post(t, tr, rec.srv.URL, `{}`)
	if n := len(rec.attempts()); n != 2 {
		t.Fatalf("%d attempts, want 2", n)
	}
	rec1 := newRecorder(t, failThen(100, http.StatusServiceUnavailable, ""))
	tr1, _ := fast(WithMaxAttempts(0))
	post(t, tr1, rec1.srv.URL, `{}`)
	if n := len(rec1.attempts()); n != 1 {
		t.Fatalf("WithMaxAttempts(0): %d attempts, want 1", n)
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		n := len(keys)
		mu.Unlock()
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // the connection drops: no response
			}
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	tr, _ := fast()
	if resp := post(t, tr, srv.URL, `{}`); resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) < 2 {
		t.Fatalf("%d attempts, want a retry after the dropped connection", len(keys))
	}
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("keys %q differ", keys)
		}
	}
}

func TestNetworkErrorExhausted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens any more
	tr, delays := fast(WithMaxAttempts(3))
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("want the connection error")
	}
	if len(*delays) != 2 {
		t.Fatalf("%d waits, want 2 (3 attempts)", len(*delays))
	}
}

func TestNoKeyNoRetryUnlessIdempotent(t *testing.T) {
	// A method the Transport does not give a key, and that HTTP does not
	// call idempotent, is sent once.
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	req, _ := http.NewRequest("PURGE", rec.srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the 503: PURGE without a key is not retried", resp.StatusCode)
	}
	if got := rec.attempts(); len(got) != 1 || got[0].hasKey {
		t.Fatalf("attempts %+v, want one without a key", got)
	}

	// With a key of the caller's, it is retried.
	rec = newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	req, _ = http.NewRequest("PURGE", rec.srv.URL, nil)
	req.Header.Set("Idempotency-Key", "purge-1")
	if resp, err = tr.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.attempts(); len(got) != 2 || got[1].key != "purge-1" {
		t.Fatalf("attempts %+v, want two with the caller's key", got)
	}
}

func TestSafeMethodsGetNoKey(t *testing.T) {
	rec := newRecorder(t, failThen(1, http.StatusServiceUnavailable, ""))
	tr, _ := fast()
	req, _ := http.NewRequest(http.MethodGet, rec.srv.URL, nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rec.attempts(); len(got) != 2 || got[0].hasKey || got[1].hasKey {
		t.Fatalf("attempts %+v, want two GETs without a key", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	rec := newRecorder(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n%2 == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	tr := New(nil, WithBackoff(time.Millisecond, 5*time.Millisecond), WithMaxAttempts(10))
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, rec.srv.URL, strings.NewReader(fmt.Sprint(i)))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	byKey := map[string]string{}
	for _, a := range rec.attempts() {
		if b, ok := byKey[a.key]; ok && b != string(a.body) {
			t.Fatalf("key %s sent with bodies %q and %q", a.key, b, a.body)
		}
		byKey[a.key] = string(a.body)
	}
	if len(byKey) != 20 {
		t.Fatalf("%d distinct keys, want 20", len(byKey))
	}
}

func TestNilNextIsDefaultTransport(t *testing.T) {
	if New(nil).next != http.DefaultTransport {
		t.Fatal("New(nil) does not use http.DefaultTransport")
	}
}

type idleCloser struct {
	http.RoundTripper
	closed bool
}

func (c *idleCloser) CloseIdleConnections() { c.closed = true }

func TestCloseIdleConnections(t *testing.T) {
	next := &idleCloser{RoundTripper: http.DefaultTransport}
	(&http.Client{Transport: New(next)}).CloseIdleConnections()
	if !next.closed {
		t.Fatal("CloseIdleConnections did not reach the next RoundTripper")
	}
	New(http.NewFileTransport(http.Dir("."))).CloseIdleConnections() // no such method: no-op
}

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k := NewKey()
		if !uuidV4.MatchString(k) {
			t.Fatalf("%q is not a canonical lower-case UUID v4", k)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999999999999999", 0, false},
		{"9999999999999", time.Duration(1<<62) / time.Second * time.Second, true},
	} {
		got, ok := parseRetryAfter(c.in, now)
		if got != c.want || ok != c.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
