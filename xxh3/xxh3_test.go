package idemxxh3_test

import (
	"bytes"
	"testing"

	"github.com/zeebo/xxh3"

	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
	idemxxh3 "github.com/idemkit/idempotency/xxh3"
)

func TestMatchesReference(t *testing.T) {
	for _, in := range [][]byte{nil, []byte("a"), bytes.Repeat([]byte("idemkit"), 1000)} {
		h := idemxxh3.New()
		h.Write(in[:len(in)/2])
		h.Write(in[len(in)/2:])
		want := xxh3.Hash128(in).Bytes()
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("Sum(%d bytes) = %x, want %x", len(in), got, want)
		}
		h.Reset()
		h.Write(in)
		if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
			t.Fatalf("after Reset: %x, want %x", got, want)
		}
	}
}

func TestAsFingerprintAlgorithm(t *testing.T) {
	in := &core.FingerprintInput{Method: "POST", Path: "/p", ContentType: "application/json", Body: []byte(`{"b":1,"a":2}`)}
	re := &core.FingerprintInput{Method: "POST", Path: "/p", ContentType: "application/json", Body: []byte(`{ "a":2, "b":1 }`)}
	h := core.MustCanonicalHasher(core.WithHashAlgorithm(idemxxh3.New))
	a, _ := h.Fingerprint(in)
	b, _ := h.Fingerprint(re)
	s, _ := core.MustCanonicalHasher().Fingerprint(in)
	if a != b {
		t.Fatal("reordered JSON fingerprints differ under xxh3")
	}
	if a == s {
		t.Fatal("xxh3 and sha256 fingerprints are equal")
	}
	if _, err := core.New(core.WithStore(memory.New()), core.WithHashAlgorithm(idemxxh3.New), core.WithIgnoredFields("a")); err != nil {
		t.Fatalf("WithHashAlgorithm with ignored fields: %v", err)
	}
}
