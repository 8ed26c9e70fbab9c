package canonjson

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/internal/canonjson/refcanon"
)

// refBodies generates documents that exercise the order cache: arrays of
// objects whose keys repeat the previous sibling's sequence, or differ
// from it in one key, its length, its case, a repeat or an ignored member,
// nested objects at several depths, and keys longer than eight bytes.
func refBodies(seed uint64, n int) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	keys := []string{"sku", "qty", "price", "note", "Qty", "QTY", "a", "b", "\u212a", "k", "K",
		"client_request_id", "client_request_iD", "timestamp", "amount", "z", "skv", "\u00e9t\u00e9", "\u00c9T\u00c9", "a\\u0062"}
	var obj func(b *strings.Builder, depth int)
	val := func(b *strings.Builder, depth int) {
		switch r.IntN(6) {
		case 0:
			if depth < 4 {
				obj(b, depth+1)
				return
			}
			b.WriteString(`1.50`)
		case 1:
			b.WriteString(`[`)
			for i := range r.IntN(4) {
				if i > 0 {
					b.WriteString(`,`)
				}
				if depth < 4 {
					obj(b, depth+1)
				} else {
					b.WriteString(`0`)
				}
			}
			b.WriteString(`]`)
		case 2:
			fmt.Fprintf(b, `"v%d\n"`, r.IntN(100))
		default:
			fmt.Fprintf(b, `%d`, r.IntN(1000))
		}
	}
	var prev []string
	obj = func(b *strings.Builder, depth int) {
		var ks []string
		if prev != nil && r.IntN(3) > 0 {
			ks = append(ks, prev...)
			if r.IntN(3) == 0 && len(ks) > 0 {
				ks[r.IntN(len(ks))] = keys[r.IntN(len(keys))]
			}
		} else {
			for range r.IntN(7) {
				ks = append(ks, keys[r.IntN(len(keys))])
			}
		}
		prev = ks
		b.WriteString(`{`)
		for i, k := range ks {
			if i > 0 {
				b.WriteString(`,`)
			}
			fmt.Fprintf(b, `"%s":`, k)
			val(b, depth)
		}
		b.WriteString(`}`)
	}
	var out []string
	for range n {
		var b strings.Builder
		b.WriteString(`[`)
		for i := range 1 + r.IntN(8) {
			if i > 0 {
				b.WriteString(`,`)
			}
			obj(&b, 0)
		}
		b.WriteString(`]`)
		out = append(out, b.String())
	}
	return out
}

// TestMatchesReference compares Append, one Canon reused throughout (so
// that remembered orders carry over between documents), with the
// materialising canonicaliser of 5eaa2c1, with and without ignored paths.
func TestMatchesReference(t *testing.T) {
	paths := []string{"*.note", "*.*.k", "*.client_request_id"}
	ig, _ := CompileIgnore(paths...)
	rig, _ := refcanon.CompileIgnore(paths...)
	var c Canon
	var out []byte
	for i, body := range refBodies(14, 3000) {
		var ref refcanon.Canon
		for _, ign := range []bool{false, true} {
			var err error
			var want []byte
			var werr error
			if ign {
				out, err = c.Append(out[:0], []byte(body), ig)
				want, werr = ref.Append(nil, []byte(body), rig)
			} else {
				out, err = c.Append(out[:0], []byte(body), nil)
				want, werr = ref.Append(nil, []byte(body), nil)
			}
			if err != nil || werr != nil || !bytes.Equal(out, want) {
				t.Fatalf("body %d (ignore %v) %s:\n got %s, %v\nwant %s, %v", i, ign, body, out, err, want, werr)
			}
		}
	}
}

func TestCanonicalManyMembersNoAllocs(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{`)
	for i := 500; i > 0; i-- {
		if i < 500 {
			b.WriteString(`,`)
		}
		fmt.Fprintf(&b, `"key%04d":%d`, i, i)
	}
	b.WriteString(`}`)
	src := []byte(b.String())
	var c Canon
	out, _ := c.Append(nil, src, nil)
	if n := testing.AllocsPerRun(50, func() { out, _ = c.Append(out[:0], src, nil) }); n != 0 {
		t.Errorf("%v allocations per run for an object of 500 members", n)
	}
}
