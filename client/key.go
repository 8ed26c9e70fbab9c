package idemclient

import "crypto/rand"

// NewKey returns a new random UUID v4 in its canonical lower-case form,
// e.g. "4b9f0c2e-8d1a-4c43-9a0e-3f6f7d0c9b21". It is the default key of
// a Transport.
func NewKey() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // never fails (crypto/rand, Go 1.24+)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant RFC 9562
	const hexd = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hexd[c>>4], hexd[c&0x0f]
		j += 2
	}
	return string(s[:])
}
