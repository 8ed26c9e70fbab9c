package core

import (
	"context"
	"sync"
	"time"
)

// alerter passes events to alert handlers at most once per event type and
// scope per cooldown. The cooldown lives in the store when it implements
// Cooldowns, so N instances alert once; this process keeps its own as
// well. Nothing of it runs on the request: the request only checks the
// local cooldown and queues the event; one goroutine acquires the shared
// cooldown and calls the handlers.
type alerter struct {
	handlers []AlertHandler
	cooldown time.Duration
	shared   Cooldowns
	timeout  time.Duration
	bg       *background

	start sync.Once
	queue chan alert

	mu    sync.Mutex
	until map[string]time.Time
}

type alert struct {
	ctx  context.Context
	name string
	ev   Event
}

func (a *alerter) init(c *config, bg *background) {
	a.handlers = c.alerts
	a.cooldown = c.alertCooldown
	a.shared, _ = c.store.(Cooldowns)
	a.timeout = c.storeTimeout
	if a.timeout <= 0 {
		a.timeout = DefaultStoreTimeout
	}
	a.bg = bg
	a.until = make(map[string]time.Time)
}

func (a *alerter) fire(ctx context.Context, ev Event, scope string) {
	name := "alert:" + string(ev.Type) + ":" + RedactKey(scope)
	if !a.acquireLocal(name) {
		return
	}
	a.start.Do(func() {
		a.queue = make(chan alert, alertQueue)
		a.bg.loops.Add(1)
		go a.run()
	})
	select {
	case a.queue <- alert{ctx: context.WithoutCancel(ctx), name: name, ev: ev}:
	default: // full: never block a request for an alert
	}
}

func (a *alerter) run() {
	defer a.bg.loops.Done()
	for {
		select {
		case <-a.bg.ctx.Done():
			return
		case al := <-a.queue:
			if a.acquireShared(al.name) {
				for _, h := range a.handlers {
					go h(al.ctx, al.ev) // a slow handler must not hold the others
				}
			}
		}
	}
}

// acquireShared takes the cooldown in the store, if it keeps them. When
// the store is down, the alert goes out anyway: it probably reports that
// very outage, and this process's own cooldown already held it back once.
func (a *alerter) acquireShared(name string) bool {
	if a.cooldown <= 0 || a.shared == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(a.bg.ctx, a.timeout)
	defer cancel()
	ok, err := a.shared.AcquireCooldown(ctx, name, a.cooldown)
	return err != nil || ok
}

func (a *alerter) acquireLocal(name string) bool {
	if a.cooldown <= 0 {
		return true
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
