package core_test

import (
	"context"
	"strings"
	"testing"
)

// SPEC §4: Set-Cookie and hop-by-hop headers are never replayed, however
// a handler spelled them. A handler that writes the header map directly
// (w.Header()["set-cookie"]) bypasses Go's canonicalisation, and the
// rules used to match canonical names only: the cookie was stored and
// handed to every retry.
func TestReplayNeverHandsOutCookiesWhateverTheirSpelling(t *testing.T) {
	e := newEngine(t)
	handler := func(_ context.Context, w *fakeWriter) error {
		h := w.Header()
		h["set-cookie"] = []string{"sid=alice"}
		h["SET-COOKIE"] = []string{"sid=alice2"}
		h["connection"] = []string{"close"}
		h["X-Order"] = []string{"1"}
		w.WriteHeader(201)
		_, err := w.Write([]byte(`{"id":1}`))
		return err
	}
	for i, want := range []string{"Original", "Repeated"} {
		x := post(k1, payment).handle(handler)
		if p, err := serve(e, x); p != nil || err != nil {
			t.Fatalf("request %d: panic %v, err %v", i, p, err)
		}
		if i == 0 {
			continue
		}
		if len(x.replies) != 1 {
			t.Fatalf("replay: %d replies, want 1", len(x.replies))
		}
		got := x.response()
		if s := got.Get("Idempotency-Status"); s != want {
			t.Fatalf("Idempotency-Status %q, want %q", s, want)
		}
		for name := range got {
			if strings.EqualFold(name, "Set-Cookie") || strings.EqualFold(name, "Connection") {
				t.Errorf("replay carries %s: %q", name, got[name])
			}
		}
		if got.Get("X-Order") != "1" {
			t.Errorf("replay lost X-Order: %v", got)
		}
	}
}
