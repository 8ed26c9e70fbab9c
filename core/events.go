package core

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"time"
)

// emit completes ev with the request's context and hands it to telemetry
// and, through the cooldown, to alert handlers.
func (e *Engine) emit(r *request, ev *Event) {
	if !e.listened() {
		return // nobody listens: skip the clock and the key's hash
	}
	ev.Time = time.Now()
	ev.Scope = e.scopeName
	if r.ex == nil { // Engine.Do: its scope is a name the code chose
		ev.Scope = r.scope
	}
	ev.Method = r.m.Method
	ev.Route = r.m.Route
	if r.key != "" {
		ev.Key = e.displayKey(r.key)
	}
	e.cfg.telemetry.Event(r.ctx, ev)
	if len(e.cfg.alerts) > 0 {
		e.alerts.fire(r.ctx, *ev, r.scope)
	}
}

// listened reports whether events reach anyone: a telemetry driver other
// than NullTelemetry, or an alert handler. Without one, work that only
// feeds events (their fields, the replay counter) is skipped.
func (e *Engine) listened() bool { return e.measure || len(e.cfg.alerts) > 0 }

// displayKey is the key as events show it: "h:" and 12 hex digits of its
// SHA-256 unless redaction is off. The prefix lets operators match events
// of one key without exposing it.
func (e *Engine) displayKey(k string) string {
	if !e.cfg.redactKeys {
		return k
	}
	return RedactKey(k)
}

// RedactKey returns the redacted form of a key that events carry.
func RedactKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return "h:" + hex.EncodeToString(sum[:6])
}

// dupCounter counts replays per key in this process, for
// RESPONSE_DUPLICATE. It is bounded: a full shard starts over, which can
// only delay an event, never invent one.
type dupCounter struct {
	seed   maphash.Seed
	once   sync.Once
	shards [16]dupShard
}

type dupShard struct {
	mu   sync.Mutex
	hits map[uint64]int
}

const dupShardMax = 4096

func (d *dupCounter) hit(key string) int {
	d.once.Do(func() { d.seed = maphash.MakeSeed() })
	h := maphash.String(d.seed, key)
	s := &d.shards[h%uint64(len(d.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hits == nil || len(s.hits) >= dupShardMax {
		s.hits = make(map[uint64]int)
	}
	s.hits[h]++
	return s.hits[h]
}

// alertQueue bounds the alerts waiting for the cooldown; past it an alert
// is dropped, which only happens while alerts of many scopes fire at once.
const alertQueue = 256
