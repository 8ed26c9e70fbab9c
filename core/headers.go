package core

import (
	"net/http"
	"strings"
)

// notReplayed lists the response headers that are never stored nor
// replayed: hop-by-hop headers describe one connection, Date and
// Content-Length are recomputed, Set-Cookie must not hand one client's
// session to a replay, and the idempotency headers are set afresh on every
// response.
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

// headerRules decide which response headers are stored and replayed: never
// those of notReplayed or of the denylist (WithReplayHeadersExcept); only
// those of the allowlist (WithReplayHeaders) when there is one. The same
// rules run again on replay, so a record written by an older version, by
// another configuration or by anyone with access to the store cannot make
// a replay hand out a cookie or a hop-by-hop header.
type headerRules struct {
	allow []string        // canonical names; nil: every header
	deny  map[string]bool // canonical names, on top of notReplayed
}

func (h *headerRules) replayable(name string) bool {
	// A handler that writes the header map directly can store any
	// spelling ("set-cookie"); the rules hold whatever it is. For a
	// canonical name CanonicalHeaderKey only scans, without allocating.
	name = http.CanonicalHeaderKey(name)
	if notReplayed[name] || h.deny[name] {
		return false
	}
	if h.allow == nil || name == "Content-Type" {
		return true
	}
	for _, a := range h.allow {
		if a == name {
			return true
		}
	}
	return false
}

// stored reports whether a captured header goes into the record: it must
// be replayable, and set or changed by the handler (or middleware inside
// the idempotency middleware), not left as outer middleware set it.
func (h *headerRules) stored(name string, vals []string, outer *HeaderSnapshot) bool {
	return h.replayable(name) && !outer.Unchanged(name, vals)
}

// filterReplay removes from a decoded response's header what must never be
// replayed. The header is the decoder's own map.
func (h *headerRules) filterReplay(hdr http.Header) {
	for name := range hdr {
		if !h.replayable(name) {
			delete(hdr, name)
		}
	}
}

// storedHeaders returns the captured headers that go into the record, for
// serializers other than the built-in one. It returns hdr itself when
// nothing needs dropping.
func (h *headerRules) storedHeaders(hdr http.Header, outer *HeaderSnapshot) http.Header {
	drop := false
	for name, vals := range hdr {
		if !h.stored(name, vals, outer) {
			drop = true
			break
		}
	}
	if !drop {
		return hdr
	}
	out := make(http.Header, len(hdr))
	for name, vals := range hdr {
		if h.stored(name, vals, outer) {
			out[name] = vals
		}
	}
	return out
}

// linesEventStream is isEventStream for header lines.
func linesEventStream(lines []HeaderLine) bool {
	for _, l := range lines {
		if l.Name == "Content-Type" {
			return len(l.Value) >= 17 && strings.EqualFold(l.Value[:17], "text/event-stream")
		}
	}
	return false
}

// isEventStream reports whether a response is a server-sent event stream:
// such a response is delivered as it goes and never stored, even when the
// handler wrote it without flushing.
func isEventStream(hdr http.Header) bool {
	ct := hdr["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= 17 && strings.EqualFold(ct[0][:17], "text/event-stream")
}
