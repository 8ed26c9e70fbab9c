package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/idemkit/idempotency/core"
)

// Environment variables of the record key ring, as the servers read them.
const (
	envSigningKey = "IDEMKIT_SIGNING_KEY"
	envEncrypt    = "IDEMKIT_ENCRYPT"
)

// exitUnverified: inspect or resolve found a record that does not verify
// under -signing-key (forged, tampered with, copied from another key,
// signed by a key not in the ring, or unsigned): the servers refuse it
// with 503.
const exitUnverified = 5

// ring is the record key ring of -signing-key and -encrypt, or nil
// when neither the flag nor IDEMKIT_SIGNING_KEY gives one. A malformed
// ring is a usage error; its message never holds a secret.
func (g *globals) ring() (*keyRing, error) {
	raw, from := g.signingKey, "-signing-key"
	if !g.signingKeySet {
		raw, from = os.Getenv(envSigningKey), envSigningKey
	}
	encrypt, encFrom := g.encrypt, "-encrypt"
	if !g.encryptSet {
		encFrom = envEncrypt
		if v := strings.TrimSpace(os.Getenv(envEncrypt)); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: want true or false", envEncrypt, v)
			}
			encrypt = b
		}
	}
	if strings.TrimSpace(raw) == "" {
		if encrypt {
			return nil, fmt.Errorf("%s needs a key ring (-signing-key or %s)", encFrom, envSigningKey)
		}
		return nil, nil
	}
	keys, err := core.ParseRecordKeys(raw)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), core.ErrInvalidOption.Error()+": ")
		return nil, fmt.Errorf("%s: %s", from, redactSecrets(msg, raw))
	}
	return &keyRing{keys: keys, encrypt: encrypt}, nil
}

// keyRing is a parsed -signing-key.
type keyRing struct {
	keys    []core.RecordKey
	encrypt bool
}

// signer is the id of the key that signs (the ring's first).
func (r *keyRing) signer() string { return r.keys[0].ID }

// engine builds an Engine on c's store (Redis or PostgreSQL) that verifies, opens and seals
// records as the servers do. Keys are used as typed (core.Token), as the
// rest of idemctl uses them; ttl is the TTL of a response it stores.
func (r *keyRing) engine(c backend, ttl time.Duration) (*core.Engine, error) {
	opts := []core.Option{core.WithStore(c.coreStore()), core.WithRecordKeys(r.keys...), core.WithKeyValidator(core.Token()), core.WithTTL(ttl)}
	if r.encrypt {
		opts = append(opts, core.WithRecordEncryption())
	}
	return core.New(opts...)
}

// closeEngine stops e's background work (it has none that idemctl
// starts, but an Engine is closed after use).
func closeEngine(e *core.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = e.Close(ctx)
}

// redactSecrets replaces the secrets of raw ("id:secret,...", or a bare
// secret) in msg, so that no error shows one even if core's did.
func redactSecrets(msg, raw string) string {
	for _, item := range strings.Split(raw, ",") {
		item = strings.TrimSpace(item)
		if _, secret, ok := strings.Cut(item, ":"); ok {
			item = secret
		}
		if len(item) >= 4 {
			msg = strings.ReplaceAll(msg, item, "xxxxx")
		}
	}
	return msg
}

// rejection is the reason a record does not verify, without the error
// chain's generic prefix: "signature does not verify", "sealed with
// unknown key id \"k9\"", "not signed"...
func rejection(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, core.ErrRecordRejected.Error()+": "); i >= 0 {
		return msg[i+len(core.ErrRecordRejected.Error())+2:]
	}
	return msg
}

// isRejected reports whether err says a record does not verify.
func isRejected(err error) bool { return errors.Is(err, core.ErrRecordRejected) }
