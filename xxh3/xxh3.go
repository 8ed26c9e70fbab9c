package idemxxh3

import (
	"hash"

	"github.com/zeebo/xxh3"
)

// Size is the length of an XXH3-128 sum in bytes.
const Size = 16

// New returns a hash.Hash computing XXH3-128 (unseeded).
func New() hash.Hash { return &hasher{h: xxh3.New()} }

var _ hash.Hash = (*hasher)(nil)

// hasher adapts zeebo/xxh3's Hasher, whose Sum is the 64-bit digest, to a
// hash.Hash whose Sum is the 128-bit one.
type hasher struct{ h *xxh3.Hasher }

func (x *hasher) Write(p []byte) (int, error)       { return x.h.Write(p) }
func (x *hasher) WriteString(s string) (int, error) { return x.h.WriteString(s) }
func (x *hasher) Reset()                            { x.h.Reset() }
func (x *hasher) Size() int                         { return Size }
func (x *hasher) BlockSize() int                    { return x.h.BlockSize() }

// Sum appends the big-endian 128-bit digest to b.
func (x *hasher) Sum(b []byte) []byte {
	s := x.h.Sum128().Bytes()
	return append(b, s[:]...)
}
