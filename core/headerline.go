package core

import (
	"net/http"
	"unsafe"
)

// HeaderLineOf returns the response header line k: v for Captured.Lines,
// for frameworks that keep headers as bytes (fasthttp). It copies
// nothing: Name and Value alias k and v, which must hold still until the
// Engine has encoded them (before Serve returns, see Captured.Lines).
// Only a name that is not canonical (the framework's normalising turned
// off) is canonicalised, into a copy.
func HeaderLineOf(k, v []byte) HeaderLine {
	name := unsafe.String(unsafe.SliceData(k), len(k))
	if !isCanonicalKey(k) {
		name = http.CanonicalHeaderKey(string(k))
	}
	return HeaderLine{Name: name, Value: unsafe.String(unsafe.SliceData(v), len(v))}
}

// isCanonicalKey reports whether k is a canonical header name, as
// http.CanonicalHeaderKey would leave it.
func isCanonicalKey(k []byte) bool {
	upper := true
	for _, c := range k {
		switch {
		case upper && 'a' <= c && c <= 'z', !upper && 'A' <= c && c <= 'Z':
			return false
		case c == ' ' || c >= 0x80:
			return false // let CanonicalHeaderKey decide (it leaves such names alone)
		}
		upper = c == '-'
	}
	return true
}
