package idemredis

import (
	"testing"

	"github.com/idemkit/idempotency/core"
)

// Begin replies without the trailing signature (or with an empty one)
// read as unsigned; with it, as signed.
func TestParseBeginSig(t *testing.T) {
	fp := core.Fingerprint{1}
	cases := []struct {
		name string
		v    []any
		want string
	}{
		{"in flight", []any{int64(4), "1700000000000", int64(1000), "7", ""}, ""},
		{"in flight, empty", []any{int64(4), "1700000000000", int64(1000), "7", "", ""}, ""},
		{"in flight, signed", []any{int64(4), "1700000000000", int64(1000), "7", "1", "g1"}, "g1"},
		{"final", []any{int64(2), "4", int64(1000), "reason", "7", int64(1)}, ""},
		{"final, signed", []any{int64(2), "4", int64(1000), "reason", "7", int64(1), "g2"}, "g2"},
		{"mismatch", []any{int64(3), "1", "f", "0", int64(1000), int64(0), "", "7", ""}, ""},
		{"mismatch, signed", []any{int64(3), "1", "f", "0", int64(1000), int64(0), "", "7", "", "g3"}, "g3"},
	}
	for _, c := range cases {
		res, err := parseBegin(c.v, fp)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if string(res.Record.Sig) != c.want || (c.want == "") != (res.Record.Sig == nil) {
			t.Fatalf("%s: Sig = %q, want %q", c.name, res.Record.Sig, c.want)
		}
	}
}
