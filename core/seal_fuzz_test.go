package core

import (
	"bytes"
	"fmt"
	"testing"
)

func fuzzRing(t testing.TB, encrypt bool) *keyRing {
	kr, err := newKeyRing([]RecordKey{
		{ID: "a", Secret: bytes.Repeat([]byte{1}, 32)},
		{ID: "b", Secret: bytes.Repeat([]byte{2}, 32)},
	})
	if err != nil {
		t.Fatal(err)
	}
	kr.encrypt = encrypt
	return kr
}

// FuzzOpenRecord: whatever bytes a store holds, open never panics and
// accepts nothing but what the ring sealed for this key, state and
// fingerprint: corrupt, truncated, extended, re-labelled, re-keyed or
// transplanted records are all rejected.
func FuzzOpenRecord(f *testing.F) {
	signed, encrypted := fuzzRing(f, false), fuzzRing(f, true)
	fp := Fingerprint{9}
	for _, kr := range []*keyRing{signed, encrypted} {
		s := kr.seal("scope|key", StateCompleted, &fp, []byte("\x01genuine response"))
		f.Add(s, uint8(StateCompleted), "scope|key", uint16(0))
		f.Add(s[:len(s)-1], uint8(StateCompleted), "scope|key", uint16(0))
		f.Add(append(append([]byte(nil), s...), 'x'), uint8(StateCompleted), "scope|key", uint16(0))
		f.Add(s, uint8(StateTombstone), "scope|key", uint16(0))
		f.Add(s, uint8(StateCompleted), "scope|other", uint16(0))
		f.Add(s, uint8(StateCompleted), "scope|key", uint16(5))
	}
	other, _ := newKeyRing([]RecordKey{{ID: "a", Secret: bytes.Repeat([]byte{3}, 32)}})
	f.Add(other.seal("scope|key", StateCompleted, &fp, []byte("\x01forged")), uint8(StateCompleted), "scope|key", uint16(0))
	f.Add([]byte{sealedMarker, 0, 200}, uint8(StateCompleted), "scope|key", uint16(0))
	f.Add([]byte("\x01plain response"), uint8(StateCompleted), "scope|key", uint16(0))
	f.Fuzz(func(t *testing.T, payload []byte, state uint8, storeKey string, flip uint16) {
		for _, kr := range []*keyRing{signed, encrypted} {
			p := append([]byte(nil), payload...)
			if flip > 0 && len(p) > 0 {
				p[int(flip)%len(p)] ^= byte(flip>>8) | 1
			}
			body, err := kr.open(storeKey, State(state), &fp, p)
			if err != nil {
				continue
			}
			// The only seals in reach are the ring's own, of this body
			// for this key and state: nothing else may open.
			if storeKey != "scope|key" || State(state) != StateCompleted || string(body) != "\x01genuine response" {
				t.Fatalf("opened %q as %q for %q, state %d", p, body, storeKey, state)
			}
			if kr.encrypt && p[1] != flagEncrypted {
				t.Fatalf("an encrypting ring opened a record in clear: %q", p)
			}
		}
		// A claim signature: likewise.
		sig := signed.claimSig("scope|key", &fp)
		if err := signed.verifyClaim(storeKey, &fp, payload); err == nil && (storeKey != "scope|key" || !bytes.Equal(payload, sig)) {
			t.Fatalf("accepted a claim signature the ring did not make: %q for %q", payload, storeKey)
		}
	})
}

// BenchmarkSeal is what signing or encryption adds per record: one seal
// when storing, one open when replaying.
func BenchmarkSeal(b *testing.B) {
	fp := Fingerprint{1}
	for _, size := range []int{200, 100 << 10} {
		body := bytes.Repeat([]byte("x"), size)
		for _, enc := range []bool{false, true} {
			name := "sign"
			if enc {
				name = "encrypt"
			}
			kr := fuzzRing(b, enc)
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					s := kr.seal("user_route:alice|POST /payments|k", StateCompleted, &fp, body)
					if _, err := kr.open("user_route:alice|POST /payments|k", StateCompleted, &fp, s); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}
