package core

// captureHeadroom is the room a BodyCapture leaves in front of the body:
// enough for the head of a typical record (format version, status, a few
// stored headers) and a signature's prefix. A record whose head does not
// fit is built by copying instead.
const captureHeadroom = 256

// payloadFrame is a stored payload built back to front around a body that
// is already in place: the Engine prepends the record's head, then a
// seal's prefix, into the free bytes before it. The payload is
// buf[off:].
type payloadFrame struct {
	buf []byte
	off int
}

// frameBody returns a frame holding head then body. When body was captured
// with headroom (frame, see BodyCapture) and head fits there, the frame is
// that buffer and body is not copied; otherwise the frame is a new buffer
// with room for a seal's prefix.
func frameBody(frame, body, head []byte) payloadFrame {
	if len(frame) == captureHeadroom+len(body) && len(head) <= captureHeadroom {
		f := payloadFrame{buf: frame, off: captureHeadroom}
		f.prepend(head)
		return f
	}
	const sealRoom = 64 // a signed seal's prefix with a key id of up to 29 bytes
	buf := make([]byte, sealRoom, sealRoom+len(head)+len(body))
	buf = append(append(buf, head...), body...)
	return payloadFrame{buf: buf, off: sealRoom}
}

// bytes returns the payload.
func (f *payloadFrame) bytes() []byte { return f.buf[f.off:] }

// prepend writes p in front of the payload, when there is room for it.
func (f *payloadFrame) prepend(p []byte) bool {
	if len(p) > f.off {
		return false
	}
	f.off -= len(p)
	copy(f.buf[f.off:], p)
	return true
}
