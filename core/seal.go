package core

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
)

// RecordKey is one key of the ring that signs (and optionally encrypts)
// stored records (WithRecordKeys).
type RecordKey struct {
	// ID names the key in every record it seals, so that a record is
	// verified with the key that sealed it while keys rotate. 1 to 64
	// printable ASCII characters, unique in the ring.
	ID string
	// Secret is at least MinRecordSecret random bytes. It never leaves
	// the process: signing and encryption use keys derived from it.
	Secret []byte
}

// MinRecordSecret is the shortest RecordKey.Secret accepted.
const MinRecordSecret = 32

// sealKey is a RecordKey ready for use: a MAC key and an AEAD, both
// derived from the secret, so that one secret never serves two purposes.
type sealKey struct {
	id   string
	mac  []byte
	aead cipher.AEAD
	// macs pools keyed HMACs: hmac.New computes the key's inner and outer
	// pads and allocates two digests, which would cost more than signing a
	// small record.
	macs sync.Pool
}

// hmac returns a reset HMAC under k; put it back with k.macs.Put.
func (k *sealKey) hmac() hash.Hash {
	if h, ok := k.macs.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(sha256.New, k.mac)
}

// keyRing seals with its first key and opens with any of them.
type keyRing struct {
	keys    []*sealKey
	byID    map[string]*sealKey
	encrypt bool
}

func newKeyRing(keys []RecordKey) (*keyRing, error) {
	if len(keys) == 0 {
		return nil, invalid("record keys: none given")
	}
	kr := &keyRing{byID: make(map[string]*sealKey, len(keys))}
	for _, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return nil, err
		}
		if len(k.Secret) < MinRecordSecret {
			return nil, invalid("record key %q: secret must be at least %d bytes, got %d", k.ID, MinRecordSecret, len(k.Secret))
		}
		if kr.byID[k.ID] != nil {
			return nil, invalid("record key %q listed twice", k.ID)
		}
		block, err := aes.NewCipher(derive(k.Secret, "idemkit record encryption v1"))
		if err != nil {
			return nil, invalid("record key %q: %v", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, invalid("record key %q: %v", k.ID, err)
		}
		sk := &sealKey{id: k.ID, mac: derive(k.Secret, "idemkit record signing v1"), aead: aead}
		kr.keys = append(kr.keys, sk)
		kr.byID[k.ID] = sk
	}
	return kr, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return invalid("record key id %q: 1 to 64 characters", id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == ',' || c == ':' {
			return invalid("record key id %q: printable ASCII without spaces, ',' or ':'", id)
		}
	}
	return nil
}

func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// ParseRecordKeys parses a key ring as flags and environment variables
// carry it: "id:secret[,id:secret...]", newest (signing) key first, each
// secret hex or standard/URL base64 of at least MinRecordSecret bytes. A
// bare secret without "id:" gets the id "k1". Errors never contain a
// secret.
func ParseRecordKeys(s string) ([]RecordKey, error) {
	var keys []RecordKey
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, secret, ok := strings.Cut(item, ":")
		if !ok {
			id, secret = "k1", item
			if i > 0 {
				return nil, invalid("record keys: item %d has no id (id:secret)", i+1)
			}
		}
		b, err := decodeSecret(secret)
		if err != nil {
			return nil, invalid("record key %q: secret is neither hex nor base64", id)
		}
		keys = append(keys, RecordKey{ID: id, Secret: b})
	}
	if len(keys) == 0 {
		return nil, invalid("record keys: none given")
	}
	if _, err := newKeyRing(keys); err != nil {
		return nil, err
	}
	return keys, nil
}

func decodeSecret(s string) ([]byte, error) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not hex or base64")
}

// Sealed payloads start with a marker that no BinarySerializer payload
// (first byte binaryFormatVersion) and no plain reason text starts with:
//
//	sealedMarker, flags, len(id), id, then
//	  signed:    32-byte HMAC-SHA256, body
//	  encrypted: 12-byte nonce, AES-256-GCM(body) with its 16-byte tag
//
// The MAC, or the AEAD's additional data, binds the body to the store key,
// the record's state and fingerprint, the flags and the key id, so that a
// record copied to another key, or re-labelled, does not verify.
const (
	sealedMarker   = 0xE1
	claimMarker    = 0xE2
	commitMarker   = 0xE3
	flagEncrypted  = 1
	sealMACSize    = sha256.Size
	sealNonceSize  = 12
	sealHeaderSize = 3
)

// sealContext is what a seal binds its body to.
func sealContext(dst []byte, purpose, storeKey string, state State, fp *Fingerprint, flags byte, id string) []byte {
	dst = append(dst, purpose...)
	dst = binary.AppendUvarint(dst, uint64(len(storeKey)))
	dst = append(dst, storeKey...)
	dst = append(dst, byte(state), flags)
	dst = append(dst, fp[:]...)
	dst = append(dst, byte(len(id))) // so that no id is a prefix of another's signed bytes
	return append(dst, id...)
}

// seal wraps a final record's payload (an encoded response, or a reason).
func (kr *keyRing) seal(storeKey string, state State, fp *Fingerprint, body []byte) []byte {
	k := kr.keys[0]
	var flags byte
	if kr.encrypt {
		flags = flagEncrypted
	}
	out := make([]byte, 0, sealHeaderSize+len(k.id)+sealNonceSize+len(body)+k.aead.Overhead()+sealMACSize)
	out = append(out, sealedMarker, flags, byte(len(k.id)))
	out = append(out, k.id...)
	var ctxBuf [256]byte
	ad := sealContext(ctxBuf[:0], "idemkit record v1", storeKey, state, fp, flags, k.id)
	if kr.encrypt {
		var nonce [sealNonceSize]byte
		_, _ = rand.Read(nonce[:]) // crypto/rand.Read never fails
		out = append(out, nonce[:]...)
		return k.aead.Seal(out, nonce[:], body, ad)
	}
	m := k.hmac()
	m.Write(ad)
	m.Write(body)
	out = m.Sum(out)
	k.macs.Put(m)
	return append(out, body...)
}

// sealFrame seals the payload in f in place, prepending the signed
// envelope's prefix (marker, flags, key id, MAC), and reports whether it
// could: not when encrypting, which rewrites the body, nor when the
// frame has no room in front.
func (kr *keyRing) sealFrame(storeKey string, state State, fp *Fingerprint, f *payloadFrame) bool {
	k := kr.keys[0]
	if kr.encrypt || f.off < sealHeaderSize+len(k.id)+sealMACSize {
		return false
	}
	var prefix [sealHeaderSize + 255 + sealMACSize]byte
	p := append(prefix[:0], sealedMarker, 0, byte(len(k.id)))
	p = append(p, k.id...)
	var ctxBuf [256]byte
	ad := sealContext(ctxBuf[:0], "idemkit record v1", storeKey, state, fp, 0, k.id)
	m := k.hmac()
	m.Write(ad)
	m.Write(f.bytes())
	p = m.Sum(p)
	k.macs.Put(m)
	return f.prepend(p)
}

func rejected(format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrCorruptRecord, ErrRecordRejected, fmt.Sprintf(format, args...))
}

// isSealed reports whether payload is a sealed envelope.
func isSealed(payload []byte) bool { return len(payload) > 0 && payload[0] == sealedMarker }

// open verifies (and decrypts) a sealed payload and returns its body.
func (kr *keyRing) open(storeKey string, state State, fp *Fingerprint, payload []byte) ([]byte, error) {
	if len(payload) < sealHeaderSize || payload[0] != sealedMarker {
		return nil, rejected("not signed")
	}
	flags, n := payload[1], int(payload[2])
	if len(payload) < sealHeaderSize+n {
		return nil, rejected("truncated")
	}
	id := string(payload[sealHeaderSize : sealHeaderSize+n])
	k := kr.byID[id]
	if k == nil {
		return nil, rejected("sealed with unknown key id %q", id)
	}
	rest := payload[sealHeaderSize+n:]
	var ctxBuf [256]byte
	ad := sealContext(ctxBuf[:0], "idemkit record v1", storeKey, state, fp, flags, id)
	switch flags {
	case flagEncrypted:
		if len(rest) < sealNonceSize+k.aead.Overhead() {
			return nil, rejected("truncated")
		}
		body, err := k.aead.Open(nil, rest[:sealNonceSize], rest[sealNonceSize:], ad)
		if err != nil {
			return nil, rejected("does not decrypt")
		}
		return body, nil
	case 0:
		// Signed in clear: authentic whether or not this Engine
		// encrypts, so that turning encryption on does not refuse the
		// records already stored.
		if len(rest) < sealMACSize {
			return nil, rejected("truncated")
		}
		m := k.hmac()
		m.Write(ad)
		m.Write(rest[sealMACSize:])
		var sum [sealMACSize]byte
		ok := hmac.Equal(m.Sum(sum[:0]), rest[:sealMACSize])
		k.macs.Put(m)
		if !ok {
			return nil, rejected("signature does not verify")
		}
		return rest[sealMACSize:], nil
	default:
		return nil, rejected("unknown flags %#x", flags)
	}
}

// claimSig signs a claim: its store key and fingerprint (Attempt.Sig).
// Token and lease are the store's to assign, so they are not covered: a
// writer who could change them could as well delete the record, which no
// signature prevents; the lease it can claim is bounded on read instead
// (checkLease).
func (kr *keyRing) claimSig(storeKey string, fp *Fingerprint) []byte {
	return kr.sign(claimMarker, "idemkit claim v1", storeKey, fp)
}

// verifyClaim checks a claim's signature.
func (kr *keyRing) verifyClaim(storeKey string, fp *Fingerprint, sig []byte) error {
	return kr.verifySig(claimMarker, "idemkit claim v1", "claim", storeKey, fp, sig)
}

// commitSig signs a claim's commitment (Store.Commit): its store key and
// fingerprint, under its own purpose and marker, so that neither
// signature passes for the other. It alone vouches for the uncertain
// record a store makes of a stranded claim (whose reason the store
// writes): a claim signature does not, since a claim need never have
// been committed, and a final record keeps it (Record.CommitSig).
func (kr *keyRing) commitSig(storeKey string, fp *Fingerprint) []byte {
	return kr.sign(commitMarker, "idemkit commit v1", storeKey, fp)
}

// verifyCommit checks a commitment's signature.
func (kr *keyRing) verifyCommit(storeKey string, fp *Fingerprint, sig []byte) error {
	return kr.verifySig(commitMarker, "idemkit commit v1", "commitment", storeKey, fp, sig)
}

// sign returns marker, len(id), id, HMAC(purpose, storeKey, fp, id) under
// the ring's first key.
func (kr *keyRing) sign(marker byte, purpose, storeKey string, fp *Fingerprint) []byte {
	k := kr.keys[0]
	out := make([]byte, 0, 2+len(k.id)+sealMACSize)
	out = append(out, marker, byte(len(k.id)))
	out = append(out, k.id...)
	var ctxBuf [256]byte
	m := k.hmac()
	m.Write(sealContext(ctxBuf[:0], purpose, storeKey, StateInFlight, fp, 0, k.id))
	out = m.Sum(out)
	k.macs.Put(m)
	return out
}

// verifySig checks a signature made by sign with marker and purpose;
// what names it in errors.
func (kr *keyRing) verifySig(marker byte, purpose, what, storeKey string, fp *Fingerprint, sig []byte) error {
	if len(sig) < 2 || sig[0] != marker {
		return rejected("%s not signed", what)
	}
	n := int(sig[1])
	if len(sig) != 2+n+sealMACSize {
		return rejected("%s signature malformed", what)
	}
	id := string(sig[2 : 2+n])
	k := kr.byID[id]
	if k == nil {
		return rejected("%s signed with unknown key id %q", what, id)
	}
	var ctxBuf [256]byte
	m := k.hmac()
	m.Write(sealContext(ctxBuf[:0], purpose, storeKey, StateInFlight, fp, 0, id))
	var sum [sealMACSize]byte
	ok := hmac.Equal(m.Sum(sum[:0]), sig[2+n:])
	k.macs.Put(m)
	if !ok {
		return rejected("%s signature does not verify", what)
	}
	return nil
}

// sealed returns a final record's payload as the store keeps it: sealed
// under the ring when records are signed, else as it is.
func (e *Engine) sealed(r *request, state State, payload []byte) []byte {
	if e.ring == nil {
		return payload
	}
	return e.ring.seal(r.storeKey, state, &r.fpv, payload)
}

// sealRoom is the room a payload frame needs in front for sealFrame: a
// signed seal's prefix, or nothing when records are not sealed in place
// (unsigned, or encrypted, which copies).
func (e *Engine) sealRoom() int {
	if e.ring == nil || e.ring.encrypt {
		return 0
	}
	return sealHeaderSize + len(e.ring.keys[0].id) + sealMACSize
}

// sealedFrame is sealed for a payload built in a frame: sealed in place
// when it can be.
func (e *Engine) sealedFrame(r *request, state State, f *payloadFrame) []byte {
	if e.ring == nil || e.ring.sealFrame(r.storeKey, state, &r.fpv, f) {
		return f.bytes()
	}
	return e.ring.seal(r.storeKey, state, &r.fpv, f.bytes())
}

// maxLeaseAhead bounds how far ahead a claim's lease may end, measured
// against the Engine's own lease: a forged or tampered claim cannot block
// a key for longer than a genuine one could, even with a valid signature
// copied from another claim of the key. The slack covers clock skew and
// instances configured with a longer lease during a rollout.
func (e *Engine) maxLeaseAhead() time.Duration { return 2*e.cfg.lease + time.Minute }

// verifyRecord checks a record read from the store against the ring and,
// for a sealed one, replaces its Payload with the opened contents. Claims
// are vouched for by the claim's signature; uncertain records the store
// made of a stranded claim (whose reason it wrote itself) by the claim's
// commitment signature (Record.CommitSig), since only a committed claim
// is ever stranded; every other final record by its seal.
func (e *Engine) verifyRecord(storeKey string, rec *Record) error {
	kr := e.ring
	switch {
	case rec.State == StateInFlight:
		if err := kr.verifyClaim(storeKey, &rec.Fingerprint, rec.Sig); err != nil {
			return err
		}
		// A claim always has a lease end: none means the store could not
		// read it (say "1e20", which a Lua script reads as a number), and
		// the bound below would not apply.
		if rec.LeaseUntil.IsZero() {
			return rejected("claim has no readable lease end")
		}
		if time.Until(rec.LeaseUntil) > e.maxLeaseAhead() {
			return rejected("claim lease ends %v ahead, more than a lease allows", time.Until(rec.LeaseUntil).Round(time.Second))
		}
		return nil
	case rec.State == StateUncertain && !isSealed(rec.Payload):
		return kr.verifyCommit(storeKey, &rec.Fingerprint, rec.CommitSig)
	case rec.State.Final():
		body, err := kr.open(storeKey, rec.State, &rec.Fingerprint, rec.Payload)
		if err != nil {
			return err
		}
		rec.Payload = body
		return nil
	default:
		return rejected("unknown state %d", rec.State)
	}
}

// SealInfo describes a stored payload for tools that read records
// directly (idemctl): whether it is sealed, by which key id, and whether
// it is encrypted. It verifies nothing; Engine.Inspect does.
func SealInfo(payload []byte) (keyID string, encrypted, sealed bool) {
	if len(payload) < sealHeaderSize || payload[0] != sealedMarker || len(payload) < sealHeaderSize+int(payload[2]) {
		return "", false, false
	}
	return string(payload[sealHeaderSize : sealHeaderSize+int(payload[2])]), payload[1] == flagEncrypted, true
}
