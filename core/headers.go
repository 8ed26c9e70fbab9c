package core

import "net/http"

// notReplayed lists the response headers that are never stored: hop-by-hop
// headers describe one connection, Date and Content-Length are recomputed,
// Set-Cookie must not hand one client's session to a replay, and the
// idempotency headers are set afresh on every response.
var notReplayed = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Proxy-Connection":    true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Date":                true,
	"Content-Length":      true,
	"Set-Cookie":          true,
	"Idempotency-Status":  true,
	"Idempotent-Replayed": true,
}

// replayHeaders returns the headers of h worth storing. With an allowlist
// only those (and Content-Type) are kept. It returns h itself when nothing
// needs dropping, so the common case does not copy.
func replayHeaders(h http.Header, allow []string) http.Header {
	if len(allow) > 0 {
		out := make(http.Header, len(allow)+1)
		if v, ok := h["Content-Type"]; ok {
			out["Content-Type"] = v
		}
		for _, name := range allow {
			if v, ok := h[name]; ok && !notReplayed[name] {
				out[name] = v
			}
		}
		return out
	}
	drop := false
	for name := range h {
		if notReplayed[name] {
			drop = true
			break
		}
	}
	if !drop {
		return h
	}
	out := make(http.Header, len(h))
	for name, v := range h {
		if !notReplayed[name] {
			out[name] = v
		}
	}
	return out
}
