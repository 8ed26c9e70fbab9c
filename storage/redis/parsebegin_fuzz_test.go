package idemredis

import (
	"testing"

	"github.com/idemkit/idempotency/core"
)

// parseBegin never panics, whatever Redis answers: replies are built from
// fields any writer to the shared Redis controls.
func FuzzParseBegin(f *testing.F) {
	f.Add(int64(2), "4", int64(1000), "reason", "7", int64(1), "g", "", "", "", 7)
	f.Add(int64(3), "1", int64(0), "0", "1000", int64(0), "", "7", "", "g3", 10)
	f.Add(int64(4), "1700000000000", int64(1000), "7", "1", int64(0), "g1", "", "", "", 6)
	f.Add(int64(1), "18446744073709551616", int64(1), "", "", int64(0), "", "", "", "", 3)
	f.Add(int64(-1), "1", int64(1), "lease or token", "", int64(0), "", "", "", "", 4)
	f.Fuzz(func(t *testing.T, o int64, a string, b int64, c, d string, e int64, g, h, i, j string, n int) {
		all := []any{o, a, b, c, d, e, g, h, i, j, int64(n)}
		if n < 0 {
			n = -n
		}
		v := all[:n%(len(all)+1)]
		res, err := parseBegin(v, core.Fingerprint{1})
		if err == nil && res.Outcome == "" {
			t.Fatalf("no outcome and no error for %q", v)
		}
	})
}
