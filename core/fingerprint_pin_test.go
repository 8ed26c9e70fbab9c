package core

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/idemkit/idempotency/internal/canonjson/refcanon"
)

// pinBodies are bodies whose fingerprints are pinned in
// TestFingerprintPinned: small, key-dense, text-heavy, nested, with fold
// groups and repeated keys, and larger than the hasher's streaming
// threshold, so that a change to how the canonical form is produced (not
// what it is) cannot change a stored fingerprint unnoticed.
func pinBodies() map[string]string {
	var items strings.Builder
	for i := 0; i < 30000; i++ {
		if i > 0 {
			items.WriteByte(',')
		}
		fmt.Fprintf(&items, `{"sku":"SKU-%05d","qty":%d,"price":%d.%02d,"note":"line\n%d \u00fcn\u00efcode"}`, i, i%7+1, 100+i, i%100, i)
	}
	big := `{"currency":"EUR","items":[` + items.String() + `],"amount":1,"meta":{"z":1,"a":[` + items.String() + `]}}`
	return map[string]string{
		"small":    `{"b":2,"a":1}`,
		"payment":  `{"currency":"EUR","amount":100.50,"customer":{"name":"Zo\u00eb","email":"z@example.com"},"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]}`,
		"folds":    `{"amount":1,"AMOUNT":1000,"items":[{"qty":1,"QTY":5,"Qty":2}],"a":1,"A":2,"a":3,"k":1,"\u212a":2}`,
		"repeated": `{"b":{"y":1,"x":2},"a":1,"b":{"x":3},"a":null,"c":[{"q":1,"p":2,"q":3}]}`,
		"array":    `[{"b":1,"a":2},{"b":1,"a":2},{"a":1,"b":2},{"c":0,"b":1,"a":2},3,"x",[{"y":1,"x":0}]]`,
		"big":      big,
		"bigText":  `{"type":"t","tickets":["` + strings.Repeat("0123456789abcdef", 1<<16) + `"],"source":"s"}`,
		"invalid":  `{"b":2,"a":1,` + items.String(),
	}
}

// pinned are the fingerprints of pinBodies under SHA-256 (ignoring
// "meta.z"), as computed at commit 5eaa2c1, before the streaming hasher.
var pinned = map[string]string{
	"array":    "087e92f95017a6a8fc0fc6d570affbc6bbfcbb9d3b29b83b1f0efcec8e014908",
	"big":      "626f5915fabb0ac923c4b9aae16494cbf7ea0d3eec27399e45e4ec926f15946c",
	"bigText":  "01ae50fe8bb461b9aae6594aab1ee7faaf16c853d0ac66c9115fe29b45bc291b",
	"folds":    "4eb32985fe73794ba70c4ac8b9ad96d29c8ac3e28016dea252a004269349636b",
	"invalid":  "21f8387a488ab211fd1a1682b9166ac4cfcbab11bc2290366727056183d84dd7",
	"payment":  "7cc71d76c09dcb850e02dc394242402787cb2bc4f90d9552361f74a3ec41d34e",
	"repeated": "448139a91c117f570fc36c8ed86e7fb5a0aa8cf4ae1eaceaf50cb201d7e31e6a",
	"small":    "7bba3818d6fe8bd17d51775541fe30b7e6edb4ef22fcadfb20a008ba40e6015b",
}

func TestFingerprintPinned(t *testing.T) {
	h := MustCanonicalHasher(WithIgnoredFields("meta.z"))
	for name, body := range pinBodies() {
		got := fp(t, h, FingerprintInput{Method: "POST", Path: "/p", RawQuery: "b=1&a=2", ContentType: jsonCT, Body: []byte(body)})
		if want, ok := pinned[name]; !ok {
			t.Errorf("%s: no pinned value; got %s", name, got)
		} else if got.String() != want {
			t.Errorf("%s: fingerprint %s, pinned %s", name, got, want)
		}
	}
}

// refFingerprint is the fingerprint of a JSON body as the materialising
// canonicaliser of 5eaa2c1 computed it: SHA-256 of the framing, the body
// kind and the whole canonical body (or the raw body when it is not
// canonicalisable).
func refFingerprint(in *FingerprintInput, ig *refcanon.Ignore) Fingerprint {
	b := append([]byte(nil), "idemkit/2\n"...)
	b = appendField(b, in.Method)
	b = appendField(b, in.Path)
	q := len(b)
	b = appendCanonicalQuery(append(b, 0, 0, 0, 0), in.RawQuery)
	binary.BigEndian.PutUint32(b[q:], uint32(len(b)-q-4))
	var c refcanon.Canon
	if len(in.Body) > 0 {
		if out, err := c.Append(append(b, kindJSON), in.Body, ig); err == nil {
			return sha256.Sum256(out)
		}
	}
	return sha256.Sum256(append(append(b, kindRaw), in.Body...))
}

func TestFingerprintMatchesReference(t *testing.T) {
	ig, err := refcanon.CompileIgnore("meta.z")
	if err != nil {
		t.Fatal(err)
	}
	h := MustCanonicalHasher(WithIgnoredFields("meta.z"))
	for name, body := range pinBodies() {
		in := FingerprintInput{Method: "POST", Path: "/p", RawQuery: "b=1&a=2", ContentType: jsonCT, Body: []byte(body)}
		if got, want := fp(t, h, in), refFingerprint(&in, ig); got != want {
			t.Errorf("%s: fingerprint %s, reference %s", name, got, want)
		}
	}
}
