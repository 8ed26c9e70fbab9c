// Package httpapp maps the example API (package shop) to net/http alone:
// the handlers and the request-id, recovery and X-User-ID middleware, on
// an http.ServeMux. The net/http server (examples/nethttp/main.go) wires
// them with the idemhttp middleware for its readers to see; New wires
// them the same way for the demo (examples/demo) and the tests, which
// cannot import a main package.
package httpapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/examples/internal/shop"
	idemhttp "github.com/idemkit/idempotency/nethttp"
)

// New returns the handler of the example API on store, counting
// executions in s, as examples/nethttp wires it (see newMux there, whose
// tests hold it to the same behaviour, apptest, and routes). extra
// options (e.g. core.WithTelemetry) apply to every route's middleware
// before the route's own settings. An invalid option is returned as an
// error rather than a panic, so a server can report it and exit cleanly.
//
// Middleware order matters. RequestID is outermost, outside the
// idempotency middleware, so every response gets a fresh X-Request-Id, a
// replay included: the idempotency middleware must neither store nor
// replay headers set before it ran (SPEC §3, step 8). Recovery comes
// next, so a handler panic first unwinds through the idempotency
// middleware, which releases the key (a retry runs fresh; after declared
// effects it keeps the key uncertain instead), and is then turned into a
// 500 that still carries its request id. The idempotency middleware sits
// on each route, where the mux has matched the pattern.
func New(store core.Store, s *shop.Shop, extra ...core.Option) (http.Handler, error) {
	if store == nil {
		return nil, errors.New("httpapp: nil store")
	}
	if s == nil {
		return nil, errors.New("httpapp: nil shop")
	}
	// The user is in the request's context under a typed key (User), which
	// shop.Options' core.WithUserKey cannot name: the typed getter, later
	// in the options, replaces it.
	extra = append(extra[:len(extra):len(extra)], idemhttp.WithUserGetter(UserOf))
	mux := http.NewServeMux()
	for _, rt := range shop.Routes() {
		h := Handler(s, rt.Endpoint)
		pattern := rt.Method + " " + rt.Path
		if !rt.Idempotent() {
			mux.Handle(pattern, h)
			continue
		}
		// One middleware (one Engine) per route: the routes differ in
		// header, validator, TTL and optionality, yet share the store.
		mw, err := idemhttp.NewE(shop.Options(store, rt.Endpoint, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("httpapp: %s: %w", pattern, err)
		}
		mux.Handle(pattern, mw(h))
	}
	return RequestID(Recovery(slog.New(slog.DiscardHandler))(User(mux))), nil
}

// RequestID sets a fresh X-Request-Id (shop.NewRequestID) on every
// response, before the rest of the chain runs.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(shop.RequestIDHeader, shop.NewRequestID())
		next.ServeHTTP(w, r)
	})
}

// Recovery turns a handler's panic into a 500 and logs it, as
// gin.Recovery and Echo's middleware.Recover do: net/http's own recovery
// logs the panic and drops the connection, leaving the client without an
// answer. http.ErrAbortHandler, a handler's deliberate abort, keeps
// propagating.
func Recovery(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
					http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// userKey is the request-context key of the user User stores.
type userKey struct{}

// User is the demo's authentication middleware: it stores the X-User-ID
// header in the request's context, where UserOf (the servers' typed user
// getter, idemhttp.WithUserGetter) finds it to scope keys per user.
func User(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u := r.Header.Get(shop.UserHeader); u != "" {
			r = r.WithContext(context.WithValue(r.Context(), userKey{}, u))
		}
		next.ServeHTTP(w, r)
	})
}

// UserOf returns the user User stored in r's context, or "".
func UserOf(r *http.Request) string {
	u, _ := r.Context().Value(userKey{}).(string)
	return u
}

// Handler maps a request to shop.Handle and writes its response. The shop
// gets r.Context(), which idemhttp replaces with the claim's context
// before the handler runs: payments declare their effects through it.
func Handler(s *shop.Shop, e shop.Endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var resp *shop.Response
		body, err := shop.ReadBody(r.Body)
		switch {
		case errors.Is(err, shop.ErrBodyTooLarge):
			resp = shop.Error(http.StatusRequestEntityTooLarge, "request body too large")
		case err != nil:
			resp = shop.Error(http.StatusBadRequest, "request body could not be read")
		default:
			resp = s.Handle(r.Context(), e, &shop.Request{
				Query:  r.URL.Query(),
				Header: r.Header,
				Body:   body,
				User:   UserOf(r),
			})
		}
		write(w, r, resp)
	})
}

// write copies resp's headers and writes its status and body, or streams
// it: each chunk of resp.Stream is written and flushed
// (http.ResponseController, which reaches the server's writer through
// idemhttp's), until the client goes away.
func write(w http.ResponseWriter, r *http.Request, resp *shop.Response) {
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	w.WriteHeader(resp.Status)
	if resp.Stream == nil {
		_, _ = w.Write(resp.Body)
		return
	}
	rc := http.NewResponseController(w)
	for _, chunk := range resp.Stream {
		if r.Context().Err() != nil {
			return
		}
		if _, err := w.Write(chunk); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
