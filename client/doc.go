// Package idemclient is the client side of idempotency keys: an
// http.RoundTripper that retries mutating requests safely.
//
//	client := &http.Client{Transport: idemclient.New(nil)}
//	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
//
// For POST, PUT, PATCH and DELETE requests without an Idempotency-Key
// header, the Transport generates one (a random UUID v4, see NewKey) once
// per logical request and sends that same key on every attempt, so a
// server running idemkit (or any server that honours the header) executes
// the request once however often it is sent. A key the caller set is
// kept: create one per intent (say, per checkout) and reuse it when the
// whole operation is retried later.
//
// A server that calls another service from inside an idempotent handler
// can take the key from the request's context instead, with WithKeyFunc,
// e.g. the key core.DerivedKey derives from the handler's own claim, so
// that every run of the operation sends the downstream service the same
// key:
//
//	t := idemclient.New(nil, idemclient.WithKeyFunc(func(ctx context.Context) (string, error) {
//		return core.DerivedKey(ctx, "psp")
//	}))
//
// The function is called once per logical request, not per attempt, and
// only when the request carries no key of its own. When it fails, or
// returns an empty key, the request fails before anything is sent: the
// Transport never falls back to a random key or to no key.
//
// Every attempt sends identical bytes: the body is buffered (up to
// WithMaxBodyBytes, 10 MiB by default) or re-read through req.GetBody. A
// body that can be sent only once is sent once, without retries.
//
// Attempts are retried (4 attempts in all by default) on network errors
// and on 409 (the original is still in flight), 425, 429, 502, 503 and
// 504, waiting for the server's Retry-After (seconds or an HTTP date) or
// else an exponential backoff with full jitter, both capped (5s by
// default). The Transport never retries:
//
//   - a 422, which means the key was already used with another payload:
//     the caller must look at it, and send a new key for a new request;
//   - other 4xx statuses, nor 500 (use WithRetryOn to change the policy);
//   - a request that carries no key, unless its method is idempotent by
//     HTTP (GET, HEAD, OPTIONS, TRACE, PUT, DELETE);
//   - once the request's context is done; and it does not start a wait
//     that would outlast the context's deadline, returning the last
//     response instead.
//
// When the attempts are exhausted, the last response is returned as it
// came (e.g. the final 503, body unread), or the last network error.
package idemclient
