package core_test

import (
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"github.com/idemkit/idempotency/core"
)

// HeaderLineOf names every line as http.CanonicalHeaderKey would, and
// copies nothing for a name that is canonical already (fasthttp's
// default; odd names, with spaces or non-ASCII bytes, may be copied).
// Seen failing with the canonical check always true.
func TestHeaderLineOf(t *testing.T) {
	for _, k := range []string{
		"Content-Type", "X-Request-Id", "Etag", "X", "X-1a",
		"content-type", "X-REQUEST-ID", "x-request-id", "Www-authenticate",
		"Bad Name", "bad name", "Caf\xc3\xa9", "-x", "X--y", "",
	} {
		kb, vb := []byte(k), []byte("v")
		l := core.HeaderLineOf(kb, vb)
		if want := http.CanonicalHeaderKey(k); l.Name != want || l.Value != "v" {
			t.Errorf("HeaderLineOf(%q) = %q: %q, want %q: v", k, l.Name, l.Value, want)
		}
		if unsafe.StringData(l.Value) != unsafe.SliceData(vb) {
			t.Errorf("%q: the value was copied", k)
		}
		plain := strings.Trim(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if plain && k == http.CanonicalHeaderKey(k) && len(k) > 0 && unsafe.StringData(l.Name) != unsafe.SliceData(kb) {
			t.Errorf("%q: a canonical name was copied", k)
		}
	}
	k, v := []byte("Location"), []byte("/items/1")
	if n := testing.AllocsPerRun(100, func() { _ = core.HeaderLineOf(k, v) }); n != 0 {
		t.Fatalf("HeaderLineOf allocates %v times for a canonical name", n)
	}
}
