package core

// captureHeadroom is the room a BodyCapture leaves in front of the body:
// enough for the head of a typical record (format version, status, a few
// stored headers) and a signature's prefix. A record whose head does not
// fit is built by copying instead.
const captureHeadroom = 256

// framedMin is the smallest first write a BodyCapture captures with
// headroom: what is left of the headroom in front of the stored payload
// (see frameBody) is then at most an eighth of it.
const framedMin = 8 * captureHeadroom

// payloadFrame is a stored payload built back to front around a body that
// is already in place: the Engine prepends the record's head, then a
// seal's prefix, into the free bytes before it. The payload is
// buf[off:].
type payloadFrame struct {
	buf []byte
	off int
}

// frameBody returns a frame holding head then body, with room bytes free
// in front for a seal's prefix. When body was captured with headroom
// (frame, see BodyCapture: only bodies of framedMin bytes or more) and
// head and room fit there, the frame is that buffer and body is not
// copied; otherwise the frame is a new buffer of exactly the payload's
// size, since stores account a record by cap(payload) (storage/memory)
// and cannot see bytes in front of it.
func frameBody(frame, body, head []byte, room int) payloadFrame {
	if len(frame) == captureHeadroom+len(body) && len(head)+room <= captureHeadroom {
		f := payloadFrame{buf: frame, off: captureHeadroom}
		f.prepend(head)
		return f
	}
	buf := make([]byte, room, room+len(head)+len(body))
	buf = append(append(buf, head...), body...)
	return payloadFrame{buf: buf, off: room}
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
