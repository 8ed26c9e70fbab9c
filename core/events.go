package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash/maphash"
	"sync"
	"time"
)

// emit completes ev with the request's context and hands it to telemetry
// and, through the cooldown, to alert handlers.
func (e *Engine) emit(r *request, ev *Event) {
	ev.Time = time.Now()
	ev.Scope = e.scopeName
	ev.Method = r.method
	ev.Route = r.route
	if r.key != "" {
		ev.Key = e.displayKey(r.key)
	}
	e.cfg.telemetry.Event(r.ctx, ev)
	if len(e.cfg.alerts) > 0 {
		e.alerts.fire(r.ctx, *ev, r.scope)
	}
}

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

// alerter passes events to alert handlers at most once per event type and
// scope per cooldown. The cooldown lives in the store when it implements
// Cooldowns, so N instances alert once; otherwise in this process.
type alerter struct {
	handlers []AlertHandler
	cooldown time.Duration
	shared   Cooldowns

	mu    sync.Mutex
	until map[string]time.Time
}

func (a *alerter) init(c *config) {
	a.handlers = c.alerts
	a.cooldown = c.alertCooldown
	a.shared, _ = c.store.(Cooldowns)
	a.until = make(map[string]time.Time)
}

func (a *alerter) fire(ctx context.Context, ev Event, scope string) {
	name := "alert:" + string(ev.Type) + ":" + RedactKey(scope)
	if !a.acquire(ctx, name) {
		return
	}
	for _, h := range a.handlers {
		go h(context.WithoutCancel(ctx), ev) // alerts must never slow a request
	}
}

func (a *alerter) acquire(ctx context.Context, name string) bool {
	if a.cooldown <= 0 {
		return true
	}
	if a.shared != nil {
		ok, err := a.shared.AcquireCooldown(ctx, name, a.cooldown)
		if err == nil {
			return ok
		}
		// The store is down: fall back to this process's cooldown rather
		// than lose the alert, which probably reports that very outage.
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Before(a.until[name]) {
		return false
	}
	if len(a.until) > 10000 {
		for k, t := range a.until {
			if now.After(t) {
				delete(a.until, k)
			}
		}
	}
	a.until[name] = now.Add(a.cooldown)
	return true
}
