package core

import (
	"bytes"
	"fmt"
	"testing"
)

// A stored payload hides no more than an eighth of its size in front of
// it: a store that bounds its memory by cap(payload) (storage/memory)
// cannot see bytes before the slice, and before capture once it had none
// to miss. Seen failing with every capture framed with its 256-byte
// headroom (a 23-byte body left over 150 bytes uncounted) and with the
// copying frame keeping its seal room when nothing was sealed.
func TestStoredPayloadHidesLittleInFront(t *testing.T) {
	ring, err := newKeyRing([]RecordKey{{ID: "a", Secret: bytes.Repeat([]byte{1}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	head := []byte("0123456789abcdef0123456789abcdef0123456789") // a typical head
	for _, n := range []int{1, 23, 300, 1000, 2047, 2048, 5000, 100_000} {
		for _, signed := range []bool{false, true} {
			for _, writes := range []int{0, 1, 3} { // 0: not captured (Engine.Do, Fiber)
				t.Run(fmt.Sprintf("%d bytes signed=%v writes=%d", n, signed, writes), func(t *testing.T) {
					var b BodyCapture
					b.Start(t.Context(), 1<<20, nil)
					body := bytes.Repeat([]byte{'x'}, n)
					for i := range writes {
						b.Keep(body[i*n/writes : (i+1)*n/writes])
					}
					capd := b.Captured(200, nil)
					if writes == 0 {
						capd = Captured{Body: body}
					}
					e := &Engine{}
					if signed {
						e.ring = ring
					}
					f := frameBody(capd.frame, capd.Body, head, e.sealRoom())
					payload := e.sealedFrame(&request{storeKey: "k"}, StateCompleted, &f)
					if !bytes.HasSuffix(payload, body) || !bytes.Contains(payload, head) {
						t.Fatalf("payload does not hold head and body")
					}
					hidden := 0
					if &payload[len(payload)-1] == &f.buf[len(f.buf)-1] { // built in the frame
						hidden = cap(f.buf) - cap(payload)
					}
					if hidden*8 > cap(payload) {
						t.Fatalf("%d bytes in front of a %d-byte payload (cap %d) that a store cannot account", hidden, len(payload), cap(payload))
					}
				})
			}
		}
	}
}
